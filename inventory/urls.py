from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("items/", views.ItemListView.as_view(), name="item-list"),
    path("items/<str:sku>/", views.ItemDetailView.as_view(), name="item-detail"),
    path("stock/", views.StockInquiryView.as_view(), name="stock-inquiry"),
    path("stock/moves/", views.StockMoveListView.as_view(), name="stock-move-list"),
    path("stock/status-change/", views.StockStatusChangeView.as_view(), name="stock-status-change"),
    path("stock/adjust/", views.StockAdjustView.as_view(), name="stock-adjust"),
    path("stock/counts/", views.CycleCountListView.as_view(), name="cycle-count-list"),
    path("stock/counts/new/", views.CycleCountCreateView.as_view(), name="cycle-count-create"),
    # The approval engine links a cycle count's approval request to this name (inventory.services.counts).
    path("stock/counts/<int:pk>/", views.CycleCountDetailView.as_view(), name="cycle-count-detail"),
    path("stock/counts/<int:pk>/record/", views.CycleCountRecordView.as_view(), name="cycle-count-record"),
    path("stock/counts/<int:pk>/submit/", views.CycleCountSubmitView.as_view(), name="cycle-count-submit"),
    path("stock/counts/<int:pk>/decide/", views.CycleCountDecideView.as_view(), name="cycle-count-decide"),
    # Last: its two free segments would swallow the fixed paths above.
    path("stock/<str:sku>/<str:warehouse>/", views.StockLocationsView.as_view(), name="stock-locations"),
]
