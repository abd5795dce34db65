from rest_framework.routers import SimpleRouter

from orders.api import kpis, picking, returns, sales, shipping, views

router = SimpleRouter(trailing_slash=True)
router.register("customers", views.CustomerViewSet, basename="customer")
for module in (sales, picking, shipping, returns, kpis):
    module.register(router)

urlpatterns = router.urls
