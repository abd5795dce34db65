"""Navigation by role: each screen section shows only to roles that use it."""

from __future__ import annotations

from typing import Any, TypedDict

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from erp.roles import roles_of
from erp.scoping import scope_of
from warehouses.selectors import warehouses_for

# (label, url name, permission needed to see it)
SECTIONS = [
    ("Warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
    ("Locations", "warehouses:location-list", "warehouses.view_location"),
    ("Items", "inventory:item-list", "inventory.view_item"),
    ("Stock", "inventory:stock-inquiry", "inventory.view_itemwarehousesummary"),
    ("Counts", "inventory:cycle-count-list", "inventory.view_cyclecount"),
    ("Customers", "orders:customer-list", "orders.view_customer"),
    ("Orders", "orders:order-list", "orders.view_salesorder"),
    ("Picking", "orders:pick-list-list", "orders.view_picklist"),
    ("Shipping", "orders:shipment-list", "orders.view_shipment"),
    ("Returns", "orders:return-list", "orders.view_returnauthorization"),
    ("Suppliers", "procurement:supplier-list", "procurement.view_supplier"),
    ("Policies", "governance:policy-list", "governance.view_policy"),
    ("Approvals", "governance:approval-list", "governance.view_approvalrequest"),
    ("Exceptions", "governance:exception-dashboard", "governance.view_operationalexception"),
    ("Audit", "governance:audit-list", "governance.view_auditevent"),
]



class NavSection(TypedDict):
    label: str
    url: str
    active: bool


SCOPE_CODES_SHOWN = 3  # up to this many warehouses in scope are named in the header; more are counted


def scope_label(user: Any) -> str:
    """A short human description of where the user works, for the page header."""
    scope = scope_of(user)
    if scope.enterprise:
        return "Enterprise: all regions"
    if not scope.warehouse_ids:
        return "No warehouses in scope"
    if len(scope.warehouse_ids) <= SCOPE_CODES_SHOWN:
        return ", ".join(warehouses_for(user).order_by("code").values_list("code", flat=True))
    regions = len(scope.region_ids)
    return f"{len(scope.warehouse_ids)} warehouses in {regions} region{'s' if regions != 1 else ''}"


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_sections": [], "nav_roles": [], "nav_scope_label": ""}
    sections: list[NavSection] = []
    for label, url_name, perm in SECTIONS:
        if user.has_perm(perm):
            try:
                url = reverse(url_name)
            except NoReverseMatch:  # a section whose screens are not installed yet is simply not shown
                continue
            sections.append(NavSection(label=label, url=url, active=False))
    # One section is current: the one whose address is the longest prefix of the page's (/stock/counts/
    # is Counts, not Stock as well).
    current = max((s for s in sections if request.path.startswith(s["url"])), key=lambda s: len(s["url"]),
                  default=None)
    if current is not None:
        current["active"] = True
    return {"nav_sections": sections, "nav_roles": roles_of(user), "nav_scope_label": scope_label(user)}
