from django.urls import include, path

from orders.views import customers, picking, returns, sales, shipping

app_name = "orders"

urlpatterns = [
    path("customers/", customers.CustomerListView.as_view(), name="customer-list"),
    path("customers/<str:code>/", customers.CustomerDetailView.as_view(), name="customer-detail"),
    path("orders/", include(sales)),
    path("picking/", include(picking)),
    path("shipping/", include(shipping)),
    path("returns/", include(returns)),
]
