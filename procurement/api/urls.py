from rest_framework.routers import SimpleRouter

from procurement.api import purchasing as purchasing_api
from procurement.api import putaway as putaway_api
from procurement.api import views

router = SimpleRouter(trailing_slash=True)
router.register("suppliers", views.SupplierViewSet, basename="supplier")
# What each supplier sells, under the supplier (issue 14, point 1).
router.register(r"suppliers/(?P<supplier_code>[^/]+)/items", views.SupplierItemViewSet, basename="supplier-item")
# Put-away rules per warehouse (point 5).
router.register("putaway-rules", putaway_api.PutawayRuleViewSet, basename="putaway-rule")
# Requisitions, purchase orders and receipts.
router.register("purchase-requisitions", purchasing_api.RequisitionViewSet, basename="purchase-requisition")
router.register("purchase-orders", purchasing_api.PurchaseOrderViewSet, basename="purchase-order")
router.register("receipts", purchasing_api.ReceiptViewSet, basename="receipt")

urlpatterns = router.urls
