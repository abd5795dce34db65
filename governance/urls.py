from django.urls import include, path

from governance.views import approvals, audit, exceptions, policies

app_name = "governance"

urlpatterns = [
    path("governance/policies/", include(policies)),
    path("governance/approvals/", include(approvals)),
    path("governance/exceptions/", include(exceptions)),
    path("governance/audit/", include(audit)),
]
