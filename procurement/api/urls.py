from rest_framework.routers import SimpleRouter

from procurement.api import views

router = SimpleRouter(trailing_slash=True)
router.register("suppliers", views.SupplierViewSet, basename="supplier")

urlpatterns = router.urls

# Put-away rules per warehouse (issue 14, point 5).
from procurement.api import putaway as putaway_api  # noqa: E402

router.register("putaway-rules", putaway_api.PutawayRuleViewSet, basename="putaway-rule")
urlpatterns = router.urls

# Requisitions, purchase orders and receipts (issue 14).
from procurement.api import purchasing as purchasing_api  # noqa: E402

router.register("purchase-requisitions", purchasing_api.RequisitionViewSet, basename="purchase-requisition")
router.register("purchase-orders", purchasing_api.PurchaseOrderViewSet, basename="purchase-order")
router.register("receipts", purchasing_api.ReceiptViewSet, basename="receipt")
urlpatterns = router.urls
