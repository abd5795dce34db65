"""The home page per role, and error pages that answer the API in its JSON shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.csrf import requires_csrf_token

from erp.api.errors import is_api_request, json_error_response
from erp.dashboards import Figure, Panel, PanelSpec, api_url, list_url, panels_for
from erp.models import ApiToken
from erp.roles import ROLE_BY_KEY, Role, roles_of
from erp.scoping import scope_of, scope_queryset
from governance import dashboards as governance_dashboards
from inventory import dashboards as inventory_dashboards
from inventory.models import Item
from orders import dashboards as orders_dashboards
from orders.models import Customer
from procurement import dashboards as procurement_dashboards
from procurement.models import Supplier
from warehouses.models import Location, Warehouse
from warehouses.selectors import warehouses_for
from warehouses.transfers import dashboards as transfers_dashboards

# Shortcuts on the home page per role: (label, url name, permission needed). Shown only when the
# user holds the permission and the screen exists, so a shortcut never leads to a 403 or a 404.
ROLE_SHORTCUTS: dict[str, list[tuple[str, str, str]]] = {
    "administrator": [
        ("Warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
        ("Items", "inventory:item-list", "inventory.view_item"),
        ("Customers", "orders:customer-list", "orders.view_customer"),
        ("Suppliers", "procurement:supplier-list", "procurement.view_supplier"),
        ("Admin site", "admin:index", "is_staff"),
    ],
    "warehouse_operator": [
        ("My warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
        ("Locations", "warehouses:location-list", "warehouses.view_location"),
        ("Items", "inventory:item-list", "inventory.view_item"),
    ],
    "warehouse_supervisor": [
        ("My warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
        ("Locations", "warehouses:location-list", "warehouses.view_location"),
        ("Items", "inventory:item-list", "inventory.view_item"),
    ],
    "customer_service": [
        ("Customers", "orders:customer-list", "orders.view_customer"),
        ("Items", "inventory:item-list", "inventory.view_item"),
        ("Warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
    ],
    "planner": [
        ("Items", "inventory:item-list", "inventory.view_item"),
        ("Warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
        ("Suppliers", "procurement:supplier-list", "procurement.view_supplier"),
    ],
    "buyer": [
        ("Suppliers", "procurement:supplier-list", "procurement.view_supplier"),
        ("Items", "inventory:item-list", "inventory.view_item"),
        ("Warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
    ],
    "approver": [
        ("Suppliers", "procurement:supplier-list", "procurement.view_supplier"),
        ("Customers", "orders:customer-list", "orders.view_customer"),
    ],
    "process_owner": [
        ("Warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
        ("Items", "inventory:item-list", "inventory.view_item"),
        ("Admin site", "admin:index", "is_staff"),
    ],
    "finance": [
        ("Customers", "orders:customer-list", "orders.view_customer"),
        ("Suppliers", "procurement:supplier-list", "procurement.view_supplier"),
        ("Admin site", "admin:index", "is_staff"),
    ],
    "integrator": [
        ("API documentation", "docs", ""),
        ("Items", "inventory:item-list", "inventory.view_item"),
        ("Customers", "orders:customer-list", "orders.view_customer"),
    ],
}

def _master_data(user: Any, now: datetime) -> Panel:
    """What the administrator keeps: the network and the master data, in scope."""
    counts = [
        ("Warehouses", scope_queryset(Warehouse.objects.all(), user).count(), "warehouses:warehouse-list"),
        ("Locations", scope_queryset(Location.objects.all(), user).count(), "warehouses:location-list"),
        ("Items", scope_queryset(Item.objects.all(), user).count(), "inventory:item-list"),
        ("Customers", scope_queryset(Customer.objects.all(), user).count(), "orders:customer-list"),
        ("Suppliers", scope_queryset(Supplier.objects.all(), user).count(), "procurement:supplier-list"),
    ]
    return Panel(key="master-data", title="Master data", figures=[
        Figure(label=label, value=count, key=f"master-{label.lower()}", url=list_url(url_name),
               api=api_url(f"{label.lower()}/"))
        for label, count, url_name in counts])


def _api_tokens(user: Any, now: datetime) -> Panel:
    """The user's own API tokens that still work."""
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    count = live.count()
    last_used = live.aggregate(last=Max("last_used_at"))["last"]
    return Panel(key="api-tokens", title="Your API tokens", figures=[
        Figure(label="Active tokens", value=count, key="api-tokens", url=list_url("docs"))],
        note=(f"Last used {last_used:%Y-%m-%d %H:%M} UTC." if last_used is not None
              else "Issue one with POST /api/v1/auth/token/."))


# Every home-page panel, in the order a page shows them: each app declares its own (``<app>/dashboards.py``).
PANELS: tuple[PanelSpec, ...] = (
    *orders_dashboards.PANELS, *inventory_dashboards.PANELS, *governance_dashboards.PANELS,
    *procurement_dashboards.PANELS, *transfers_dashboards.PANELS,
    PanelSpec("master-data", frozenset({"administrator"}), "warehouses.view_warehouse", _master_data),
    PanelSpec("api-tokens", frozenset({"integrator"}), None, _api_tokens),
)


def _dashboards(user: Any, roles: list[Role], now: datetime) -> list[dict[str, Any]]:
    """Each role's panels under it, a panel shown once (under the first of the user's roles that has it)."""
    shown: set[str] = set()
    dashboards = []
    for role in roles:
        panels = [panel for panel in panels_for(user, [role.key], PANELS, now) if panel.key not in shown]
        shown |= {panel.key for panel in panels}
        if panels:
            dashboards.append({"role": role, "panels": panels})
    return dashboards


def _shortcuts(user: Any, roles: list[Role]) -> list[dict[str, str]]:
    seen: set[str] = set()
    shortcuts = []
    for role in roles:
        for label, url_name, perm in ROLE_SHORTCUTS.get(role.key, []):
            allowed = user.is_staff if perm == "is_staff" else (not perm or user.has_perm(perm))
            if url_name in seen or not allowed:
                continue
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            seen.add(url_name)
            shortcuts.append({"label": label, "url": url})
    return shortcuts


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    roles = roles_of(user)
    # A superuser outside every role group still runs the place: show them the administrator's page.
    effective_roles = roles or ([ROLE_BY_KEY["administrator"]] if user.is_superuser else [])
    now = timezone.now()
    warehouses = [
        {"warehouse": warehouse, "local_time": now.astimezone(ZoneInfo(warehouse.timezone))}
        for warehouse in warehouses_for(user)
    ]
    dashboards = _dashboards(user, effective_roles, now)
    context = {
        "roles": roles,
        "is_superuser": user.is_superuser,
        "scope": scope_of(user),
        "warehouses": warehouses,
        "shortcuts": _shortcuts(user, effective_roles),
        "dashboards": dashboards,
        "has_chart": any(panel.chart is not None for dashboard in dashboards for panel in dashboard["panels"]),
        "can_view_warehouses": user.has_perm("warehouses.view_warehouse"),
    }
    return render(request, "home.html", context)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if is_api_request(request):
        return json_error_response(request, 400)
    return render(request, "errors/400.html", status=400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if is_api_request(request):
        return json_error_response(request, 403)
    return render(request, "errors/403.html", status=403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    """Django's handler404; under DEBUG ``erp.middleware.ErrorResponseMiddleware`` shows it too, in place
    of the technical 404 that lists every URL pattern."""
    if is_api_request(request):
        return json_error_response(request, 404)
    return render(request, "errors/404.html", status=404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return json_error_response(request, 500)
    return render(request, "errors/500.html", status=500)
