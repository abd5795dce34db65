from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("items/", views.ItemListView.as_view(), name="item-list"),
    path("items/<str:sku>/", views.ItemDetailView.as_view(), name="item-detail"),
    path("stock/", views.StockInquiryView.as_view(), name="stock-inquiry"),
    path("stock/moves/", views.StockMoveListView.as_view(), name="stock-move-list"),
    path("stock/status-change/", views.StockStatusChangeView.as_view(), name="stock-status-change"),
    path("stock/<str:sku>/<str:warehouse>/", views.StockLocationsView.as_view(), name="stock-locations"),
]
