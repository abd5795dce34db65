"""``/api/v1/``: each app contributes its routes; the schema and docs are generated."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from erp.api.auth_views import TokenRevokeView, TokenView
from erp.api.users import router as users_router

app_name = "api"

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("", include("warehouses.api.urls")),
    path("", include("inventory.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("procurement.api.urls")),
    path("", include("governance.api.urls")),
    path("", include("warehouses.transfers.api")),
    path("", include("warehouses.transfers.api_kpis")),
    path("", include("warehouses.transfers.api_recommendations")),
    path("", include(users_router.urls)),
]
schema_urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]
