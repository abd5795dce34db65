"""The home page per role, and error pages that answer the API in its JSON shape."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.csrf import requires_csrf_token

from erp.api.errors import is_api_request, json_error_response
from erp.roles import ROLE_BY_KEY, Role, roles_of
from erp.scoping import scope_of
from warehouses.selectors import warehouses_for

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

# The dashboards each role's home will carry once their domains exist; shown as labelled placeholders.
ROLE_DASHBOARDS: dict[str, list[str]] = {
    "administrator": ["Users and scopes", "Master data changes"],
    "warehouse_operator": ["Receipts to put away", "Pick tasks", "Cycle counts due"],
    "warehouse_supervisor": ["Waves to release", "Count variances to approve", "Warehouse exceptions"],
    "customer_service": ["Open sales orders", "Backorders", "Returns"],
    "planner": ["Shortages", "Transfers in transit", "Late receipts"],
    "buyer": ["Requisitions to convert", "Open purchase orders", "Late deliveries"],
    "approver": ["Documents awaiting my approval"],
    "process_owner": ["Deviation requests", "Policy adherence"],
    "finance": ["Unposted journals", "Intercompany balances", "Period close"],
    "integrator": ["API tokens", "Webhook deliveries"],
}


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
    dashboards = [
        {"role": role, "panels": ROLE_DASHBOARDS.get(role.key, [])} for role in effective_roles
    ]
    context = {
        "roles": roles,
        "is_superuser": user.is_superuser,
        "scope": scope_of(user),
        "warehouses": warehouses,
        "shortcuts": _shortcuts(user, effective_roles),
        "dashboards": dashboards,
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
