from rest_framework.routers import SimpleRouter

from inventory.api import views

router = SimpleRouter(trailing_slash=True)
router.register("uoms", views.UnitOfMeasureViewSet, basename="uom")
router.register("items", views.ItemViewSet, basename="item")

urlpatterns = router.urls
