from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from erp import health, views
from erp.api.urls import schema_urlpatterns

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include("erp.api.urls")),
    path("api/", include(schema_urlpatterns)),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("data/", include("erp.csv_urls")),
    path("", views.home, name="home"),
    path("", include("warehouses.urls")),
    path("", include("inventory.urls")),
    path("", include("orders.urls")),
    path("", include("procurement.urls")),
    path("", include("governance.urls")),
    path("", include("warehouses.transfers.urls")),
    path("", include("erp.user_screens")),
]

handler400 = "erp.views.bad_request"
handler403 = "erp.views.permission_denied"
handler404 = "erp.views.page_not_found"
handler500 = "erp.views.server_error"
