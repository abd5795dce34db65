"""Browser screens of the CSV exchange: /data/<kind>/export.csv, /data/<kind>/import/ and /data/jobs/<id>/."""

from django.urls import path

from erp import csv_views

app_name = "csv"

urlpatterns = [
    path("jobs/<int:job_id>/", csv_views.job_view, name="job"),
    path("jobs/<int:job_id>/progress/", csv_views.job_progress_view, name="job-progress"),
    path("jobs/<int:job_id>/confirm/", csv_views.job_confirm_view, name="job-confirm"),
    path("jobs/<int:job_id>/download.csv", csv_views.job_download_view, name="job-download"),
    path("<slug:kind>/export.csv", csv_views.export_view, name="export"),
    path("<slug:kind>/import/", csv_views.import_view, name="import"),
]
