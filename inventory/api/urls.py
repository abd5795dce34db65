from rest_framework.routers import SimpleRouter

from inventory.api import availability, counts, documents, views

router = SimpleRouter(trailing_slash=True)
router.register("uoms", views.UnitOfMeasureViewSet, basename="uom")
router.register("items", views.ItemViewSet, basename="item")
router.register("stock-statuses", views.StockStatusViewSet, basename="stock-status")
router.register("stock-moves", views.StockMoveViewSet, basename="stock-move")
availability.register(router)
documents.register(router)
counts.register(router)

urlpatterns = router.urls
