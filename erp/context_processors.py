"""Navigation by role: each screen section shows only to roles that use it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from erp.roles import roles_of

# (label, url name, permission needed to see it)
SECTIONS = [
    ("Warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
    ("Locations", "warehouses:location-list", "warehouses.view_location"),
    ("Items", "inventory:item-list", "inventory.view_item"),
    ("Customers", "orders:customer-list", "orders.view_customer"),
    ("Suppliers", "procurement:supplier-list", "procurement.view_supplier"),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_sections": [], "nav_roles": []}
    sections = []
    for label, url_name, perm in SECTIONS:
        if user.has_perm(perm):
            try:
                sections.append({"label": label, "url": reverse(url_name)})
            except Exception:  # a section whose screens are not installed yet is simply not shown
                continue
    return {"nav_sections": sections, "nav_roles": roles_of(user)}
