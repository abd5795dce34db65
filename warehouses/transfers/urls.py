"""The transfer screens (``transfers:``)."""

from django.urls import URLPattern

from warehouses.transfers import views, views_recommendations, views_write_offs

app_name = "transfers"

urlpatterns: list[URLPattern] = [*views.urlpatterns, *views_recommendations.urlpatterns,
                                   *views_write_offs.urlpatterns]
