"""Navigation grouped by process (Sell, Fulfil, Stock, Buy, Plan, Govern, Finance, Network): each screen shows
only to users with its permission, a group only when it has a screen to show, and each role's own groups first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from erp.roles import roles_of
from erp.scoping import scope_of
from warehouses.selectors import warehouses_for


@dataclass(frozen=True)
class NavLink:
    label: str
    url_name: str
    permission: str  # needed to see the link


@dataclass(frozen=True)
class NavGroup:
    key: str  # what ``Role.nav`` names
    label: str
    links: tuple[NavLink, ...]


# The processes in their standard order. A group without a screen the user may open is not shown, so wave 2's
# screens (transfers and replenishment under Plan, journals and period close under Finance) only add links.
NAV_GROUPS: tuple[NavGroup, ...] = (
    NavGroup("sell", "Sell", (
        NavLink("Customers", "orders:customer-list", "orders.view_customer"),
        NavLink("Orders", "orders:order-list", "orders.view_salesorder"),
        NavLink("Returns", "orders:return-list", "orders.view_returnauthorization"),
    )),
    NavGroup("fulfil", "Fulfil", (
        NavLink("Picking", "orders:pick-list-list", "orders.view_picklist"),
        NavLink("Shipping", "orders:shipment-list", "orders.view_shipment"),
        NavLink("Transfers", "transfers:transfer-list", "transfers.view_transfer"),
        NavLink("Receiving", "procurement:receiving", "procurement.add_receipt"),
    )),
    NavGroup("stock", "Stock", (
        NavLink("Stock inquiry", "inventory:stock-inquiry", "inventory.view_itemwarehousesummary"),
        NavLink("Items", "inventory:item-list", "inventory.view_item"),
        NavLink("Counts", "inventory:cycle-count-list", "inventory.view_cyclecount"),
        NavLink("Moves", "inventory:stock-move-list", "inventory.view_stockmove"),
        NavLink("Status changes", "inventory:stock-status-change", "inventory.change_stock_status"),
        NavLink("Adjustments", "inventory:stock-adjust", "inventory.add_stockadjustment"),
    )),
    NavGroup("buy", "Buy", (
        NavLink("Suppliers", "procurement:supplier-list", "procurement.view_supplier"),
        NavLink("Purchase orders", "procurement:purchase-order-list", "procurement.view_purchaseorder"),
        NavLink("Requisitions", "procurement:requisition-list", "procurement.view_purchaserequisition"),
        NavLink("Workbench", "procurement:buyer-workbench", "procurement.add_purchaseorder"),
    )),
    NavGroup("plan", "Plan", (
        NavLink("Transfers", "transfers:transfer-list", "transfers.view_transfer"),
        NavLink("Recommendations", "transfers:recommendation-list", "transfers.view_transferrecommendation"),
    )),
    NavGroup("govern", "Govern", (
        NavLink("Policies", "governance:policy-list", "governance.view_policy"),
        NavLink("Approvals", "governance:approval-list", "governance.view_approvalrequest"),
        NavLink("Exceptions", "governance:exception-dashboard", "governance.view_operationalexception"),
        NavLink("Audit", "governance:audit-list", "governance.view_auditevent"),
    )),
    NavGroup("finance", "Finance", ()),
    NavGroup("network", "Network", (
        NavLink("Warehouses", "warehouses:warehouse-list", "warehouses.view_warehouse"),
        NavLink("Locations", "warehouses:location-list", "warehouses.view_location"),
        NavLink("Users", "users:user-list", "auth.change_user"),
    )),
)


class NavSection(TypedDict):
    label: str
    url: str
    active: bool


class NavMenu(TypedDict):
    key: str
    label: str
    links: list[NavSection]
    active: bool


def group_order(user: Any) -> list[NavGroup]:
    """The groups in the order this user's roles put first (``Role.nav``, the roles in their standard order),
    then the others in the standard order."""
    by_key = {group.key: group for group in NAV_GROUPS}
    first = [key for role in roles_of(user) for key in role.nav]
    return [by_key[key] for key in dict.fromkeys([*first, *by_key])]


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
        return {"nav_groups": [], "nav_roles": [], "nav_scope_label": ""}
    menus: list[NavMenu] = []
    for group in group_order(user):
        links: list[NavSection] = []
        for link in group.links:
            if not user.has_perm(link.permission):
                continue
            try:
                url = reverse(link.url_name)
            except NoReverseMatch:  # a screen not installed yet is simply not shown
                continue
            links.append(NavSection(label=link.label, url=url, active=False))
        if links:
            menus.append(NavMenu(key=group.key, label=group.label, links=links, active=False))
    # One link is current: the one whose address is the longest prefix of the page's (/stock/counts/ is
    # Counts, not Stock inquiry as well); its group is current with it.
    candidates = [(menu, link) for menu in menus for link in menu["links"] if request.path.startswith(link["url"])]
    current = max(candidates, key=lambda pair: len(pair[1]["url"]), default=None)
    if current is not None:
        current[0]["active"] = current[1]["active"] = True
    return {"nav_groups": menus, "nav_roles": roles_of(user), "nav_scope_label": scope_label(user)}
