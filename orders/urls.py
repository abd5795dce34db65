from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("customers/", views.CustomerListView.as_view(), name="customer-list"),
    path("customers/<str:code>/", views.CustomerDetailView.as_view(), name="customer-detail"),
]
