from rest_framework.routers import SimpleRouter

from orders.api import sales, views

router = SimpleRouter(trailing_slash=True)
router.register("customers", views.CustomerViewSet, basename="customer")
sales.register(router)

urlpatterns = router.urls
