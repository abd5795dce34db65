"""The roles of Concord as groups with model permissions, synced from this table.

A role says what a user may do; the scope (``erp.scoping``) says where. ``sync_roles`` (run by
``migrate`` through a post-migrate hook and by ``load_demo``) makes the groups match this table
exactly, so a permission granted by hand to a role group is removed on the next sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import PermissionsMixin

MASTER_DATA_VIEW = [
    "warehouses.view_legalentity",
    "warehouses.view_region",
    "warehouses.view_warehouse",
    "warehouses.view_location",
    "warehouses.view_carrier",
    "warehouses.view_carrierlane",
    "inventory.view_unitofmeasure",
    "inventory.view_item",
    "inventory.view_itemuom",
    "orders.view_customer",
    "orders.view_shipto",
    "procurement.view_supplier",
    "inventory.view_stockstatus",
    "inventory.view_reasoncode",
    "inventory.view_statustransition",
    "inventory.view_lot",
]
# Reading stock: the ledger, balances and per-warehouse summaries of the user's scope.
STOCK_VIEW = ["inventory.view_stockmove", "inventory.view_stockbalance", "inventory.view_itemwarehousesummary",
              "inventory.view_stockadjustment", "inventory.view_cyclecount", "inventory.view_cyclecountline",
              "inventory.view_itemabcclass"]
# Changing stock on the floor: adjustments (approval beyond tolerance), status changes and cycle counts
# (opening a count by hand, counting, submitting, cancelling an open one; a recount is the approver's call).
STOCK_WORK = ["inventory.add_stockadjustment", "inventory.change_stock_status", "inventory.add_cyclecount"]
# Reading sales orders, their lines and allocations (scoped by the order's region): operators pick, pack and
# ship them, planners work their backorders, finance invoices them, so every role reads the orders of its scope.
ORDERS_VIEW = ["orders.view_salesorder", "orders.view_salesorderline", "orders.view_allocation",
               "orders.view_picklist", "orders.view_picklistline", "orders.view_shipment", "orders.view_shipmentline",
               "orders.view_package", "orders.view_shipmentdocument", "orders.view_returnauthorization",
               "orders.view_returnline"]
# Taking orders (a draft), confirming them (promise and allocation by policy) and cancelling them.
ORDER_ENTRY = ["orders.add_salesorder", "orders.change_salesorder", "orders.add_returnauthorization"]
# Picking, packing, shipping and receiving returns in the warehouse.
FULFILLMENT_WORK = ["orders.add_picklist", "orders.change_picklist", "orders.add_shipment", "orders.change_shipment",
                    "orders.change_returnauthorization"]


# Everyone reads policies, their deviations, approvals, exceptions and the audit trail of their scope;
# anyone may request a deviation for a site in their scope (approval is by the policy's process owner,
# through the approval engine, whatever the requester's role).
GOVERNANCE_BASE = [
    "governance.view_policy",
    "governance.view_policydeviation",
    "governance.add_policydeviation",
    "governance.view_approvalrequest",
    "governance.view_approvalstep",
    "governance.view_operationalexception",
    "governance.view_auditevent",
]
# Reading transfers (scoped: seen at both of their warehouses).
TRANSFERS_VIEW = ["transfers.view_transfer", "transfers.view_transferline", "transfers.view_transferlinelot",
                  "transfers.view_transferrecommendation"]
# Requesting a transfer, submitting it for approval and cancelling it before dispatch.
TRANSFER_REQUEST = ["transfers.add_transfer"]
# Refreshing network transfer recommendations, accepting them (into a transfer) and dismissing them.
TRANSFER_PLANNING = ["transfers.add_transferrecommendation", "transfers.change_transferrecommendation"]
# Dispatching and receiving transfers on the floor.
TRANSFER_WORK = ["transfers.add_transfer", "transfers.change_transfer"]
# Reading procure to pay (scoped by the receiving warehouse): suppliers' items, requisitions, purchase orders and
# their approved revisions, receipts and put-away rules. Operators receive against orders, planners wait on them.
PURCHASING_VIEW = ["procurement.view_supplieritem", "procurement.view_purchaserequisition",
                   "procurement.view_purchaserequisitionline", "procurement.view_purchaseorder",
                   "procurement.view_purchaseorderline", "procurement.view_purchaseorderrevision",
                   "procurement.view_receipt", "procurement.view_receiptline", "procurement.view_landedcost",
                   "procurement.view_landedcostline", "procurement.view_putawayrule"]
# Asking to buy: raising, submitting and cancelling a requisition.
REQUISITION = ["procurement.add_purchaserequisition"]
# Buying: supplier items, turning approved requisitions into orders, raising, submitting, revising, sending,
# rescheduling, cancelling and closing purchase orders; posting freight bills that arrive after their receipts.
PURCHASING = ["procurement.add_supplieritem", "procurement.change_supplieritem", "procurement.add_purchaserequisition",
              "procurement.change_purchaserequisition", "procurement.add_purchaseorder",
              "procurement.change_purchaseorder", "procurement.add_landedcost"]
# Receiving against purchase orders and putting the goods away.
RECEIVING_WORK = ["procurement.add_receipt"]
# Letting a receipt exceed procurement.over_receipt_tolerance (a supervisor or approver of the warehouse).
ALLOW_OVER_RECEIPT = ["procurement.allow_over_receipt"]
# Where received goods go: a warehouse's put-away rules.
PUTAWAY_RULES = ["procurement.add_putawayrule", "procurement.change_putawayrule"]
# What every role reads (scoped): master data, stock, sales orders, transfers, purchasing, governance records.
EVERYONE = MASTER_DATA_VIEW + STOCK_VIEW + ORDERS_VIEW + TRANSFERS_VIEW + PURCHASING_VIEW + GOVERNANCE_BASE
# Working an exception queue: acknowledge, resolve, cancel.
WORK_EXCEPTIONS = ["governance.change_operationalexception"]


def _crud(*models: str) -> list[str]:
    perms = []
    for dotted in models:
        app, model = dotted.split(".")
        perms += [f"{app}.{verb}_{model}" for verb in ("view", "add", "change")]
    return perms


@dataclass(frozen=True)
class Role:
    key: str
    group: str
    description: str
    permissions: tuple[str, ...]
    home: str  # the url name of the role's home page section
    nav: tuple[str, ...] = ()  # the navigation groups (``erp.context_processors.NAV_GROUPS``) this role uses first


ROLES: tuple[Role, ...] = (
    Role("administrator", "Administrator", "Users, roles, scopes and master data.",
         tuple(EVERYONE
               + _crud("warehouses.warehouse", "warehouses.location", "warehouses.carrier",
                                         "warehouses.carrierlane", "inventory.item", "inventory.unitofmeasure",
                                         "orders.customer", "orders.shipto", "procurement.supplier",
                                         "warehouses.legalentity", "warehouses.region", "governance.approvalrule",
                                         "governance.approvalrulestep", "governance.exchangerate")
               # users, their roles and scopes: through erp.services.user_access_set, inside their own scope
               + ["auth.view_user", "auth.add_user", "auth.change_user"]
               + WORK_EXCEPTIONS + ["governance.view_delegation", "governance.add_delegation",
                                    "governance.change_policy", "inventory.view_itemcost", *STOCK_WORK]),
         "master-data", nav=("network", "govern", "stock")),
    Role("warehouse_operator", "Warehouse operator",
         "Receives, puts away, picks, packs, ships and counts in their warehouses.",
         tuple(EVERYONE + STOCK_WORK + FULFILLMENT_WORK + TRANSFER_WORK + RECEIVING_WORK), "operations",
         nav=("fulfil", "stock")),
    Role("warehouse_supervisor", "Warehouse supervisor",
         "Releases waves, approves count variances, resolves warehouse exceptions.",
         tuple(EVERYONE + STOCK_WORK + FULFILLMENT_WORK + TRANSFER_WORK + RECEIVING_WORK + PUTAWAY_RULES
               + ALLOW_OVER_RECEIPT + WORK_EXCEPTIONS + _crud("warehouses.location")),
         "operations", nav=("fulfil", "stock", "govern")),
    Role("customer_service", "Customer service", "Enters and tracks sales orders and returns.",
         tuple(EVERYONE + WORK_EXCEPTIONS + ORDER_ENTRY + _crud("orders.customer", "orders.shipto")),
         "orders", nav=("sell", "fulfil")),
    Role("planner", "Planner", "Works shortages, transfers, replenishment and late receipts.",
         tuple(EVERYONE + WORK_EXCEPTIONS + TRANSFER_REQUEST + TRANSFER_PLANNING + REQUISITION), "planning",
         nav=("plan", "govern", "stock", "sell")),
    Role("buyer", "Buyer", "Raises requisitions and purchase orders; manages suppliers.",
         tuple(EVERYONE + WORK_EXCEPTIONS + _crud("procurement.supplier") + PURCHASING), "purchasing",
         nav=("buy", "stock")),
    Role("approver", "Approver", "Approves documents by the approval matrix.",
         (*EVERYONE, *ALLOW_OVER_RECEIPT, "governance.view_delegation", "governance.add_delegation"),
         "approvals", nav=("govern",)),
    Role("process_owner", "Process owner", "Owns standard policies; approves or rejects local deviations.",
         tuple(EVERYONE + WORK_EXCEPTIONS + ["governance.view_delegation",
                                                                      "governance.add_delegation"]),
         "governance", nav=("govern",)),
    Role("finance", "Finance", "Posting rules, journals, intercompany, period close.",
         tuple(EVERYONE + WORK_EXCEPTIONS + _crud("governance.exchangerate")
               + ["inventory.view_itemcost", "procurement.add_landedcost"]), "finance", nav=("finance", "govern")),
    Role("integrator", "Integrator", "Pushes orders and master data, reads availability through the API.",
         tuple(EVERYONE + STOCK_WORK + ORDER_ENTRY + FULFILLMENT_WORK + TRANSFER_WORK + PURCHASING + RECEIVING_WORK
               + _crud("warehouses.location", "inventory.item", "orders.customer",
                                                           "orders.shipto", "procurement.supplier")),
         "api", nav=("sell", "stock")),
)

ROLE_BY_KEY = {role.key: role for role in ROLES}
ROLE_BY_GROUP = {role.group: role for role in ROLES}


def roles_of(user: object) -> list[Role]:
    if not isinstance(user, PermissionsMixin) or not getattr(user, "is_authenticated", False):
        return []
    names = {group.name for group in user.groups.all()}
    return [role for role in ROLES if role.group in names]
