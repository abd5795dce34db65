from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("items/", views.ItemListView.as_view(), name="item-list"),
    path("items/<str:sku>/", views.ItemDetailView.as_view(), name="item-detail"),
]
