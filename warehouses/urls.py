from django.urls import path

from warehouses import views

app_name = "warehouses"

urlpatterns = [
    path("warehouses/", views.WarehouseListView.as_view(), name="warehouse-list"),
    path("warehouses/<str:code>/", views.WarehouseDetailView.as_view(), name="warehouse-detail"),
    path("locations/", views.LocationListView.as_view(), name="location-list"),
    path(
        "warehouses/<str:warehouse>/locations/<str:code>/",
        views.LocationDetailView.as_view(),
        name="location-detail",
    ),
]
