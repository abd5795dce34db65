from rest_framework.routers import SimpleRouter

from warehouses.api import carriers, views

router = SimpleRouter(trailing_slash=True)
router.register("regions", views.RegionViewSet, basename="region")
router.register("legal-entities", views.LegalEntityViewSet, basename="legal-entity")
router.register("warehouses", views.WarehouseViewSet, basename="warehouse")
router.register("locations", views.LocationViewSet, basename="location")
router.register("carriers", carriers.CarrierViewSet, basename="carrier")

urlpatterns = router.urls
