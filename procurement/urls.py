from django.urls import path

from procurement import views

app_name = "procurement"

urlpatterns = [
    path("suppliers/", views.SupplierListView.as_view(), name="supplier-list"),
    path("suppliers/<str:code>/", views.SupplierDetailView.as_view(), name="supplier-detail"),
]
