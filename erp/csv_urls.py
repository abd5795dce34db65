"""Browser screens of the CSV exchange: /data/<kind>/export.csv and /data/<kind>/import/."""

from django.urls import path

from erp import csv_views

app_name = "csv"

urlpatterns = [
    path("<slug:kind>/export.csv", csv_views.export_view, name="export"),
    path("<slug:kind>/import/", csv_views.import_view, name="import"),
]
