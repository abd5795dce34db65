"""The transfer screens (``transfers:``)."""

from django.urls import URLPattern

from warehouses.transfers import views

app_name = "transfers"

urlpatterns: list[URLPattern] = views.urlpatterns
