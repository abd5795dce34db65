"""The demo network of product.md: three regions, six warehouses, ~200 items, customers, users.

Loading is idempotent: every object is found by its natural key and updated in place, so a
second ``make run`` creates nothing new. The data is generated from fixed tables, never from a
random source, so every load produces the same network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from erp import services as platform
from governance.demo import raise_demo_exceptions
from governance.services.approvals import approval_rules_seed
from governance.services.policies import policies_sync
from inventory import services as inventory
from inventory.models import Item, ItemUom, UnitOfMeasure
from orders import services as orders
from orders.models import Customer
from procurement import services as procurement
from procurement.models import Supplier
from warehouses import services as network
from warehouses.models import LegalEntity, Location, Region, Warehouse
from warehouses.services import LaneFreight

LEGAL_ENTITIES = [
    ("US01", "Concord Distribution Inc.", "USD"),
    ("US02", "Gulf Supply LLC", "USD"),
    ("EU01", "Concord Europe B.V.", "EUR"),
]
REGIONS = [("NE", "Northeast", "US01"), ("SE", "Southeast", "US02"), ("EU", "Europe", "EU01")]
WAREHOUSES = [
    # code, name, region, timezone, address, city, postal code, country
    ("NE-BOS", "Boston", "NE", "America/New_York", "100 Summer St", "Boston", "02110", "US"),
    ("NE-NYC", "Newark", "NE", "America/New_York", "1 Port St", "Newark", "07114", "US"),
    ("SE-ATL", "Atlanta", "SE", "America/New_York", "500 Fulton Ind Blvd", "Atlanta", "30336", "US"),
    ("SE-MIA", "Miami", "SE", "America/New_York", "2000 NW 72nd Ave", "Miami", "33122", "US"),
    ("EU-RTM", "Rotterdam", "EU", "Europe/Amsterdam", "Maasvlakte 12", "Rotterdam", "3199", "NL"),
    ("EU-DUS", "Duesseldorf", "EU", "Europe/Berlin", "Hafenstrasse 8", "Duesseldorf", "40213", "DE"),
]
UOMS = [("EA", "Each"), ("CS", "Case"), ("PL", "Pallet"), ("KG", "Kilogram")]
CATEGORIES = [
    # category, sku prefix, lot tracked, shelf life days, case size, cases per pallet, unit weight kg
    ("Beverages", "BEV", True, 365, 24, 60, Decimal("0.3500")),
    ("Snacks", "SNK", True, 180, 12, 80, Decimal("0.2000")),
    ("Cleaning", "CLN", False, None, 6, 50, Decimal("1.1000")),
    ("Paper goods", "PAP", False, None, 8, 40, Decimal("0.9000")),
    ("Personal care", "PRC", True, 730, 12, 90, Decimal("0.2500")),
    ("Hardware", "HDW", False, None, 10, 30, Decimal("1.5000")),
    ("Dairy", "DRY", True, 21, 12, 70, Decimal("1.0300")),
    ("Frozen", "FRZ", True, 270, 10, 60, Decimal("0.8000")),
]
ITEMS_PER_CATEGORY = 25  # 8 x 25 = 200 items
NOUNS = ["Classic", "Premium", "Value", "Organic", "Family", "Compact", "Industrial", "Eco", "Select", "Pro"]
SUPPLIERS = [
    ("ACME", "Acme Wholesale", "USD", 5, 30),
    ("GULF", "Gulf Coast Foods", "USD", 7, 45),
    ("NORD", "Nordic Paper AB", "EUR", 14, 60),
    ("RHEIN", "Rhein Chemie GmbH", "EUR", 10, 30),
    ("PACIF", "Pacific Imports", "USD", 28, 60),
    ("DAIRY", "Valley Dairy Co-op", "USD", 2, 14),
]
CARRIERS = [("UPS", "United Parcel Service"), ("FEDEX", "FedEx Freight"), ("DHL", "DHL Freight")]
TRANSIT = {("NE", "NE"): 1, ("SE", "SE"): 1, ("EU", "EU"): 1, ("NE", "SE"): 3, ("SE", "NE"): 3,
           ("NE", "EU"): 7, ("EU", "NE"): 7, ("SE", "EU"): 8, ("EU", "SE"): 8}
# What the lanes charge per unit and per kg (USD): dearer the farther, so recommendations weigh it.
FREIGHT = {lane: LaneFreight(per_unit=Decimal(per_unit), per_kg=Decimal(per_kg), currency="USD")
           for lane, (per_unit, per_kg) in {
               ("NE", "NE"): ("0.15", "0.05"), ("SE", "SE"): ("0.15", "0.05"), ("EU", "EU"): ("0.15", "0.05"),
               ("NE", "SE"): ("0.35", "0.10"), ("SE", "NE"): ("0.35", "0.10"), ("NE", "EU"): ("1.20", "0.60"),
               ("EU", "NE"): ("1.20", "0.60"), ("SE", "EU"): ("1.30", "0.65"), ("EU", "SE"): ("1.30", "0.65"),
           }.items()}
CUSTOMERS = {
    # region: [(code, name, home warehouse, city, country)]
    "NE": [("C-NE-001", "Harbor Grocers", "NE-BOS", "Boston", "US"),
           ("C-NE-002", "Empire Markets", "NE-NYC", "New York", "US"),
           ("C-NE-003", "Liberty Foodservice", "NE-NYC", "Philadelphia", "US"),
           ("C-NE-004", "Granite State Supply", "NE-BOS", "Manchester", "US")],
    "SE": [("C-SE-001", "Peachtree Provisions", "SE-ATL", "Atlanta", "US"),
           ("C-SE-002", "Biscayne Retail", "SE-MIA", "Miami", "US"),
           ("C-SE-003", "Palmetto Wholesale", "SE-ATL", "Charleston", "US")],
    "EU": [("C-EU-001", "Maas Retail B.V.", "EU-RTM", "Rotterdam", "NL"),
           ("C-EU-002", "Rhein Handel GmbH", "EU-DUS", "Cologne", "DE"),
           ("C-EU-003", "Benelux Horeca", "EU-RTM", "Antwerp", "BE")],
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str | None
    enterprise: bool = False
    regions: tuple[str, ...] = ()
    warehouses: tuple[str, ...] = ()
    superuser: bool = False
    description: str = ""


USERS = [
    DemoUser("admin", None, superuser=True, description="superuser, everything"),
    DemoUser("planner", "planner", enterprise=True, description="planner, all regions"),
    DemoUser("ne.operator", "warehouse_operator", warehouses=("NE-BOS", "NE-NYC"),
             description="warehouse operator, NE-BOS and NE-NYC"),
    DemoUser("eu.operator", "warehouse_operator", regions=("EU",), description="warehouse operator, region EU"),
    DemoUser("se.operator", "warehouse_operator", warehouses=("SE-ATL", "SE-MIA"),
             description="warehouse operator, SE-ATL and SE-MIA: dispatches the demo's transfer to NE-BOS"),
    DemoUser("ne.service", "customer_service", regions=("NE",), description="customer service, region NE"),
    DemoUser("ne.supervisor", "warehouse_supervisor", regions=("NE",),
             description="warehouse supervisor, region NE: approves NE count variances"),
    DemoUser("buyer", "buyer", enterprise=True, description="buyer, all regions"),
    DemoUser("ne.buyer", "buyer", regions=("NE",),
             description="buyer, region NE: decides the matrix's buyer step of NE's purchase orders"),
    DemoUser("approver", "approver", enterprise=True, description="approver, all regions"),
    DemoUser("owner", "process_owner", enterprise=True, description="process owner of every policy"),
    DemoUser("finance", "finance", enterprise=True, description="finance, all legal entities"),
    DemoUser("integrator", "integrator", enterprise=True, description="API integrator, all regions"),
]

# The location tree of every warehouse: (code, kind, parent code)
LOCATION_TREE = (
    [("RCV", "receiving", None), ("STOR", "storage", None), ("PICK", "pick", None), ("SHIP", "shipping", None),
     ("QUAR", "quarantine", None), ("TRANSIT", "transit", None)]
    + [(f"A-{aisle:02d}-{bin_:02d}", "storage", "STOR") for aisle in (1, 2, 3) for bin_ in (1, 2, 3, 4)]
    + [(f"P-{slot:02d}", "pick", "PICK") for slot in range(1, 9)]
    + [("DOCK-1", "receiving", "RCV"), ("DOCK-2", "shipping", "SHIP")]
)


def _items() -> list[dict[str, Any]]:
    rows = []
    for category, prefix, lot_tracked, shelf_life, case, per_pallet, weight in CATEGORIES:
        for n in range(1, ITEMS_PER_CATEGORY + 1):
            rows.append({
                "sku": f"{prefix}-{n:04d}",
                "name": f"{NOUNS[n % len(NOUNS)]} {category.lower()} item {n}",
                "category": category,
                "lot_tracked": lot_tracked,
                "shelf_life_days": shelf_life,
                "weight_kg": weight,
                "case": Decimal(case),
                "pallet": Decimal(case * per_pallet),
            })
    return rows


def _item_unchanged(item: Item, fields: dict[str, Any], conversions: list[tuple[UnitOfMeasure, Decimal]],
                    factors: dict[tuple[int, int], Decimal]) -> bool:
    if any(getattr(item, name) != value for name, value in fields.items()):
        return False
    wanted = {(item.pk, uom.pk): factor for uom, factor in conversions}
    wanted[(item.pk, item.base_uom_id)] = Decimal(1)
    have = {key: value for key, value in factors.items() if key[0] == item.pk}
    return have == wanted


def load(stdout: Any = None, *, reset_passwords: bool = False, fulfil: bool = True) -> dict[str, int]:
    """Load or refresh the demo network; return how many objects of each kind it holds.

    Existing demo users keep their passwords unless ``reset_passwords`` (hashing is slow on
    purpose, and a second ``make run`` should be serving within seconds). ``fulfil`` carries one order
    through the whole flow (``fulfil_demo_order``); the test database is loaded without it, so tests count
    pick lists, shipments and returns from zero, and the tests that want it call it.
    """
    say = stdout.write if stdout is not None else (lambda _msg: None)
    platform.roles_sync(actor=None)
    policies_sync(actor=None)

    entities = {code: network.legal_entity_upsert(code=code, name=name, currency=cur, actor=None)
                for code, name, cur in LEGAL_ENTITIES}
    regions = {code: network.region_upsert(code=code, name=name, actor=None) for code, name, _ in REGIONS}
    region_entity = {code: entity for code, _, entity in REGIONS}
    warehouses: dict[str, Warehouse] = {}
    for code, name, region, tz, address, city, postal, country in WAREHOUSES:
        # One bag of fields for the create and the update alike, hence its loose type.
        fields: dict[str, Any] = dict(
            name=name, region=regions[region], legal_entity=entities[region_entity[region]], timezone=tz,
            address_line1=address, city=city, postal_code=postal, country=country, active=True)
        existing = Warehouse.objects.filter(code=code).first()
        warehouses[code] = (network.warehouse_update(warehouse=existing, actor=None, **fields) if existing
                            else network.warehouse_create(code=code, actor=None, **fields))
    say(f"network: {len(entities)} legal entities, {len(regions)} regions, {len(warehouses)} warehouses\n")

    for warehouse in warehouses.values():
        have = {loc.code: loc for loc in Location.objects.filter(warehouse=warehouse)}
        for code, kind, parent_code in LOCATION_TREE:
            if code not in have:
                have[code] = network.location_create(warehouse=warehouse, code=code, kind=kind, actor=None,
                                                     parent=have[parent_code] if parent_code else None,
                                                     name=code.replace("-", " ").title())

    uoms = {code: inventory.uom_upsert(code=code, name=name, actor=None) for code, name in UOMS}
    have_items = {item.sku: item for item in Item.objects.all()}
    factors = {(row.item_id, row.uom_id): row.factor for row in ItemUom.objects.all()}
    for row in _items():
        conversions = [(uoms["CS"], row["case"]), (uoms["PL"], row["pallet"])]
        fields = dict(name=row["name"], category=row["category"], lot_tracked=row["lot_tracked"],
                      shelf_life_days=row["shelf_life_days"], weight_kg=row["weight_kg"])
        if row["sku"] in have_items and _item_unchanged(have_items[row["sku"]], fields, conversions, factors):
            continue
        if row["sku"] in have_items:
            inventory.item_update(item=have_items[row["sku"]], actor=None, uoms=conversions, **fields)
        else:
            inventory.item_create(sku=row["sku"], base_uom=uoms["EA"], actor=None, uoms=conversions, **fields)
    say(f"items: {Item.objects.count()} with each/case/pallet conversions\n")

    for code, name, currency, lead, terms in SUPPLIERS:
        fields = dict(name=name, currency=currency, lead_time_days=lead, payment_terms_days=terms)
        supplier = Supplier.objects.filter(code=code).first()
        if supplier:
            procurement.supplier_update(supplier=supplier, actor=None, **fields)
        else:
            procurement.supplier_create(code=code, actor=None, **fields)

    for code, name in CARRIERS:
        lanes = [(regions[o], regions[d], days) for (o, d), days in TRANSIT.items()]
        network.carrier_upsert(code=code, name=name, actor=None, lanes=lanes, freight=FREIGHT)

    for region_code, rows in CUSTOMERS.items():
        for code, name, home, city, country in rows:
            ship_tos = [
                {"code": "MAIN", "name": f"{name} main dock", "address_line1": "1 Main St", "city": city,
                 "postal_code": "", "country": country, "region": regions[region_code], "default": True},
                {"code": "DC2", "name": f"{name} second DC", "address_line1": "2 Depot Rd", "city": city,
                 "postal_code": "", "country": country, "region": regions[region_code]},
            ]
            fields = dict(name=name, region=regions[region_code], home_warehouse=warehouses[home],
                          email=f"orders@{code.lower()}.example.com")
            customer = Customer.objects.filter(code=code).first()
            if customer:
                orders.customer_update(customer=customer, actor=None, ship_tos=ship_tos, **fields)
            else:
                orders.customer_create(code=code, actor=None, ship_tos=ship_tos, **fields)
    say(f"customers: {Customer.objects.count()}, suppliers: {Supplier.objects.count()}\n")
    say(f"put-away rules: {_load_putaway_rules(warehouses)}\n")
    say(f"supplier items: {_load_supplier_items()}\n")

    approval_rules_seed(actor=None)
    _load_supervisor_rules(regions)
    _load_users(regions, warehouses, reset_passwords=reset_passwords)
    say(f"opening stock posted for {_load_opening_stock(warehouses)} warehouse(s)\n")
    say(f"demo exceptions raised: {raise_demo_exceptions()}\n")  # so the exception dashboard is not empty
    say(f"cycle counts planned for today: {_plan_counts()}\n")  # what beat would plan within the hour
    say(f"draft sales orders taken: {_take_demo_orders()}\n")
    if fulfil:
        say(f"fulfilled demo order: {fulfil_demo_order()}\n")
        say(f"transfer case: {transfer_demo_case()}\n")
        say(f"procure to pay: {procurement_demo_case()}\n")
    return {
        "legal_entities": LegalEntity.objects.count(),
        "regions": Region.objects.count(),
        "warehouses": Warehouse.objects.count(),
        "locations": Location.objects.count(),
        "items": Item.objects.count(),
        "uoms": UnitOfMeasure.objects.count(),
        "customers": Customer.objects.count(),
        "suppliers": Supplier.objects.count(),
    }


def _opening_lines(warehouse_index: int, warehouse: Warehouse, items: list[Item],
                   factors: dict[int, dict[str, Decimal]]) -> list[Any]:
    """Deterministic opening stock: every item somewhere in each warehouse's bins, with gaps.

    Every tenth item (SKUs ending in 3, 13, 23...) is missing at NE-BOS but held at NE-NYC and
    SE-ATL: the whitepaper's case of stock trapped in the wrong place.
    """
    from inventory.services import OpeningLine

    bins = list(Location.objects.filter(warehouse=warehouse, code__startswith="A-").order_by("code"))
    lines = []
    for index, item in enumerate(items):
        if warehouse.code == "NE-BOS" and index % 10 == 2:
            continue
        cases = (index * 37 + warehouse_index * 11) % 40 + 5
        quantity = Decimal(cases) * (factors[item.pk].get("CS") or Decimal(1))
        lines.append(OpeningLine(
            item=item, location=bins[index % len(bins)], quantity=quantity,
            unit_cost=Decimal("1.25") + Decimal(index % 20) / 4,
            lot_number=f"L{warehouse_index}{index:04d}" if item.lot_tracked else None,
        ))
    return lines


def _load_opening_stock(warehouses: dict[str, Warehouse]) -> int:
    """Opening balances once per warehouse (a warehouse that has an opening document keeps it)."""
    from inventory.models import StockMove
    from inventory.services import stock_opening_post, stock_statuses_seed

    stock_statuses_seed()
    opened = set(StockMove.objects.filter(reference_type="opening").values_list("warehouse__code", flat=True))
    items = list(Item.objects.order_by("sku").prefetch_related("uoms__uom"))
    factors = {item.pk: {row.uom.code: row.factor for row in item.uoms.all()} for item in items}
    posted = 0
    for index, (code, warehouse) in enumerate(sorted(warehouses.items())):
        if code in opened:
            continue
        stock_opening_post(warehouse=warehouse, lines=_opening_lines(index, warehouse, items, factors),
                           reference=f"Opening balance {code}", actor=None)
        posted += 1
    return posted


# Draft orders for customer service to confirm, one per region; C-NE-001's is the whitepaper's case (CLN-0008 is
# held at NE-NYC and SE-ATL but not at its home NE-BOS). Drafts hold no stock until someone confirms them.
DEMO_ORDERS = [("C-NE-001", "DEMO-0001", [("CLN-0008", "2", "CS")]),
               ("C-SE-001", "DEMO-0001", [("PAP-0001", "1", "CS"), ("HDW-0002", "5", "EA")]),
               ("C-EU-001", "DEMO-0001", [("BEV-0001", "3", "CS")])]


def _load_putaway_rules(warehouses: dict[str, Warehouse]) -> int:
    """One put-away rule per warehouse, so the rules screen and admin show one: HDW-0001 to bin A-03-04, at most
    400 (demo items only; the tests' twins are other SKUs and keep landing at the receiving location)."""
    from procurement.models import PutawayRule
    from procurement.putaway import putaway_rule_save

    product = Item.objects.get(sku="HDW-0001")
    for warehouse in warehouses.values():
        shelf = Location.objects.get(warehouse=warehouse, code="A-03-04")
        if not PutawayRule.objects.filter(warehouse=warehouse, item=product, location=shelf).exists():
            putaway_rule_save(actor=None, warehouse=warehouse, location=shelf, priority=10,
                              max_quantity=Decimal(400), item=product)
    return PutawayRule.objects.count()


# Who sells each category: the preferred supplier, and a second source where there is one. The EUR suppliers sell
# by the case; the others by the each. Prices follow the items' opening costs (less 10%), in the supplier's currency.
SUPPLIER_CATEGORIES = {
    "Beverages": ("GULF", "PACIF"), "Snacks": ("GULF", None), "Cleaning": ("ACME", "RHEIN"),
    "Paper goods": ("NORD", "ACME"), "Personal care": ("RHEIN", None), "Hardware": ("ACME", "PACIF"),
    "Dairy": ("DAIRY", None), "Frozen": ("PACIF", None),
}
EUR_PER_USD = Decimal("0.925926")


def _load_supplier_items() -> int:
    """The suppliers' items of every demo item, once (a supplier item already there is left as it is)."""
    from procurement.models import SupplierItem

    suppliers = {supplier.code: supplier for supplier in Supplier.objects.all()}
    have = set(SupplierItem.objects.values_list("supplier__code", "item_id"))
    items = list(Item.objects.filter(sku__in=[row["sku"] for row in _items()]).order_by("sku")
                 .prefetch_related("uoms__uom"))
    for index, item in enumerate(items):
        preferred, second = SUPPLIER_CATEGORIES[item.category]
        each = (Decimal("1.25") + Decimal(index % 20) / 4) * Decimal("0.9")
        for code in (preferred, second):
            if code is None or (code, item.pk) in have:
                continue
            supplier = suppliers[code]
            by_case = supplier.currency == "EUR"
            case = next((row.factor for row in item.uoms.all() if row.uom.code == "CS"), Decimal(1))
            price = each * (case if by_case else 1) * (EUR_PER_USD if supplier.currency == "EUR" else 1)
            procurement.supplier_item_save(
                supplier=supplier, item=item, actor=None, supplier_sku=f"{code}-{item.sku}",
                uom="CS" if by_case else "", unit_price=price.quantize(Decimal("0.01")), currency=supplier.currency,
                preferred=code == preferred, lead_time_days=None)
    return SupplierItem.objects.count()


# The procure-to-pay demo: NORD (EUR) supplies NE-BOS (USD). PO 1 is small (the matrix's first band: a buyer of NE
# decides), received in part with freight and a later freight bill; PO 2 is in the second band and waits for an
# approver after ne.buyer's step; a requisition for NE-NYC waits on the buyer's workbench to be ordered.
PROCUREMENT_CASE_ORDERS = [
    ("DEMO-PO-1", [("PAP-0001", "10"), ("PAP-0002", "6"), ("PAP-0005", "4")]),
    ("DEMO-PO-2", [("PAP-0007", "150"), ("PAP-0008", "120")]),
]


def procurement_demo_case() -> str:
    """Set up the procure-to-pay demo as far as it is not yet (idempotent, found by supplier reference). Returns
    what the buyer and the approver will find."""
    from governance.services.approvals import approval_request_decide
    from procurement import landed, purchasing, receiving
    from procurement.models import PurchaseOrder, PurchaseRequisition

    users = get_user_model().objects
    buyer, ne_buyer = users.get(username="buyer"), users.get(username="ne.buyer")
    nord, boston = Supplier.objects.get(code="NORD"), Warehouse.objects.select_related("region").get(code="NE-BOS")
    orders_made = []
    for reference, lines in PROCUREMENT_CASE_ORDERS:
        order = PurchaseOrder.objects.filter(supplier=nord, supplier_reference=reference).first()
        if order is not None:
            orders_made.append(order)
            continue
        order = purchasing.purchase_order_create(
            supplier=nord, warehouse=boston, actor=buyer, supplier_reference=reference, note="Demo order",
            lines=[purchasing.OrderLineSpec(item=Item.objects.get(sku=sku), quantity=Decimal(cases), uom="CS")
                   for sku, cases in lines])
        order = purchasing.purchase_order_submit(order=order, actor=buyer)
        assert order.approval_request is not None  # a submitted order waits on its request
        approval_request_decide(request=order.approval_request, actor=ne_buyer, approve=True,
                                comment="Within NE's budget.")
        orders_made.append(PurchaseOrder.objects.get(pk=order.pk))
    first = orders_made[0]
    if first.status == "approved" and not first.receipts.exists():
        operator = users.get(username="ne.operator")
        factor = first.lines.get(line_no=2).quantity / first.lines.get(line_no=2).uom_quantity
        receipt = receiving.receipt_post(
            purchase_order=first, actor=operator, supplier_reference="ASN-DEMO-1",
            freight=receiving.Freight(Decimal("45.00"), "EUR", "value"),
            lines=[receiving.ReceiptLineSpec(line_no=1, quantity=Decimal(10), uom="CS"),
                   receiving.ReceiptLineSpec(line_no=2, quantity=Decimal(4) * factor, uom="EA")])
        landed.landed_cost_post(receipt=receipt, freight=receiving.Freight(Decimal("20.00"), "EUR", "quantity"),
                                actor=buyer, bill_reference="DHL-DEMO-1042")
    planner = users.get(username="planner")
    if not PurchaseRequisition.objects.filter(note="Demo requisition").exists():
        nyc = Warehouse.objects.get(code="NE-NYC")
        needed = purchasing.local_date(nyc) + timedelta(days=21)
        requisition = purchasing.requisition_create(
            warehouse=nyc, actor=planner, note="Demo requisition",
            lines=[purchasing.RequisitionLineSpec(item=Item.objects.get(sku=sku), quantity=Decimal(quantity),
                                                  needed_by=needed) for sku, quantity in (("CLN-0003", "120"),
                                                                                           ("HDW-0004", "60"))])
        requisition = purchasing.requisition_submit(requisition=requisition, actor=planner)
        assert requisition.approval_request is not None  # a submitted requisition waits on its request
        approval_request_decide(request=requisition.approval_request, actor=ne_buyer, approve=True)
    waiting = ", ".join(f"{order.number} {PurchaseOrder.objects.get(pk=order.pk).status}" for order in orders_made)
    return f"{waiting}; requisition for NE-NYC approved, to order"


def _take_demo_orders() -> int:
    """The demo's draft orders not taken yet (found by customer and external reference); how many were taken."""
    from orders.models import SalesOrder
    from orders.services.sales import OrderLineSpec, sales_order_create

    taken = 0
    for code, ref, lines in DEMO_ORDERS:
        if SalesOrder.objects.filter(customer__code=code, external_ref=ref).exists():
            continue
        customer = Customer.objects.get(code=code)
        specs = [OrderLineSpec(item=Item.objects.get(sku=sku), quantity=Decimal(quantity), uom=uom)
                 for sku, quantity, uom in lines]
        sales_order_create(customer=customer, ship_to=customer.ship_tos.get(code="MAIN"), lines=specs,
                           external_ref=ref, actor=None)
        taken += 1
    return taken


# One order carried through the whole flow (confirmed, picked, packed, shipped, delivered, one unit coming
# back on an authorized return), so the shipping, returns and fill-rate screens have history to show.
FULFILLED_ORDER = ("C-SE-001", "DEMO-0002", [("HDW-0001", "4", "EA"), ("PAP-0002", "2", "EA")])


def fulfil_demo_order() -> str:
    """Carry the demo's fulfilled order as far as it has not gone yet (each step idempotent); its number."""
    from orders.models import OrderStatus, SalesOrder, Shipment
    from orders.services.picking import PickAnswer, pick_list_confirm, pick_list_create
    from orders.services.returns import return_authorize
    from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
    from orders.services.shipping import shipment_create, shipment_deliver, shipment_ship
    from warehouses.models import Carrier

    code, ref, lines = FULFILLED_ORDER
    order = SalesOrder.objects.filter(customer__code=code, external_ref=ref).first()
    if order is None:
        customer = Customer.objects.get(code=code)
        specs = [OrderLineSpec(item=Item.objects.get(sku=sku), quantity=Decimal(quantity), uom=uom)
                 for sku, quantity, uom in lines]
        order = sales_order_create(customer=customer, ship_to=customer.ship_tos.get(code="MAIN"), lines=specs,
                                   external_ref=ref, actor=None)
    if order.status == OrderStatus.DRAFT:
        order = sales_order_confirm(order=order, actor=None)
    if order.status != OrderStatus.ALLOCATED and not order.pick_lists.exists():
        return f"{order.number} ({order.status}: not carried further)"
    warehouse = next((line.warehouse for line in order.lines.all() if line.warehouse is not None), None)
    if warehouse is None:
        return f"{order.number} ({order.status}: no line has a warehouse)"
    pick_list = order.pick_lists.exclude(status="cancelled").first() or pick_list_create(
        warehouse=warehouse, order=order, actor=None)
    if pick_list.status == "open":
        pick_list_confirm(pick_list=pick_list, actor=None, answers=[
            PickAnswer(line_id=line.pk, picked_quantity=line.quantity) for line in pick_list.lines.all()])
    shipment = order.shipments.exclude(status="cancelled").first() or shipment_create(
        order=order, warehouse=warehouse, actor=None, carrier=Carrier.objects.get(code="UPS"),
        tracking_number="1Z999AA10123456784", packages=[{"weight_kg": "7.5"}])
    if shipment.status == "packed":
        shipment = shipment_ship(shipment=shipment, actor=None)
    if shipment.status == "shipped":
        shipment_deliver(shipment=Shipment.objects.get(pk=shipment.pk), actor=None)
    if not order.returns.exists():
        return_authorize(order=order, lines=[{"line_no": 1, "quantity": Decimal(1)}], actor=None,
                         reason="One unit arrived scratched")
    return order.number


# The whitepaper's transfer case (issue 13): Boston holds no HDW-0013 (see ``_opening_lines``), Newark's is spoken
# for by Empire Markets, so Granite State Supply's order backorders at NE-BOS; Atlanta holds it beyond its own
# cover. Region SE (Gulf Supply LLC, a legal entity of its own) has a governed deviation: its transfers above
# 250.00 USD need approval. The planner accepts the recommendation, the approver approves, SE-ATL dispatches
# (se.operator), NE-BOS receives (ne.operator) and the backorder allocates.
TRANSFER_CASE_SKU = "HDW-0013"
TRANSFER_CASE_ORDERS = [("C-NE-002", "DEMO-0003", "22"), ("C-NE-004", "DEMO-0004", "12")]  # cases of 10
TRANSFER_CASE_THRESHOLD = ("SE", "250.00", "Gulf Supply LLC sends stock to another legal entity only with the "
                                           "region's approval above 250 USD.")


def transfer_demo_case() -> str:
    """Set up the whitepaper's transfer case as far as it is not yet (idempotent): the orders, the deviation and a
    recommendations refresh. Returns what the planner will find."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from governance.models import PolicyDeviation
    from governance.services.deviations import deviation_approve, deviation_request
    from orders.models import OrderStatus, SalesOrder
    from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create
    from warehouses.transfers.models import RecommendationStatus, TransferRecommendation
    from warehouses.transfers.recommendations import recommendations_refresh

    item = Item.objects.get(sku=TRANSFER_CASE_SKU)
    for code, ref, cases in TRANSFER_CASE_ORDERS:
        order = SalesOrder.objects.filter(customer__code=code, external_ref=ref).first()
        if order is None:
            customer = Customer.objects.get(code=code)
            order = sales_order_create(customer=customer, ship_to=customer.ship_tos.get(code="MAIN"), actor=None,
                                       external_ref=ref, lines=[OrderLineSpec(item=item, quantity=Decimal(cases),
                                                                              uom="CS")])
        if order.status == OrderStatus.DRAFT:
            sales_order_confirm(order=order, actor=None)
    region, value, rationale = TRANSFER_CASE_THRESHOLD
    users = get_user_model().objects
    if not PolicyDeviation.objects.filter(policy__key="transfers.approval_threshold", region__code=region,
                                          status__in=["requested", "approved"]).exists():
        today = timezone.localdate()
        deviation = deviation_request(policy_key="transfers.approval_threshold", scope_type="region",
                                      scope_code=region, value=value, rationale=rationale, effective_from=today,
                                      effective_to=today.replace(year=today.year + 1),
                                      actor=users.get(username="planner"))
        deviation_approve(deviation=deviation, actor=users.get(username="owner"))
    recommendations_refresh(actor=None)
    found = (TransferRecommendation.objects.filter(item=item, to_warehouse__code="NE-BOS")
             .exclude(status=RecommendationStatus.EXPIRED).select_related("from_warehouse").order_by("-score").first())
    return found.explanation if found is not None else "no recommendation (the case has been worked)"


def _plan_counts() -> int:
    """Today's planned count of every warehouse (the plan itself is idempotent per warehouse and day)."""
    from inventory.services.counts import cycle_counts_plan_all

    return cycle_counts_plan_all(actor=None)


# Count variances a region's warehouse supervisor decides (``ne.supervisor`` in NE), below this value in the
# legal entity's currency; larger ones, and regions without such a rule, go to an approver.
SUPERVISED_COUNT_VARIANCES = {"NE": Decimal("1000.00")}


def _load_supervisor_rules(regions: dict[str, Region]) -> None:
    from governance.models import ApprovalRule
    from governance.services.approvals import approval_rule_save

    for code, limit in SUPERVISED_COUNT_VARIANCES.items():
        name = f"{code} count variances below {limit:,}: the warehouse supervisor"
        if not ApprovalRule.objects.filter(document_type="cycle_count", name=name).exists():
            approval_rule_save(actor=None, document_type="cycle_count", name=name, min_amount=None,
                               max_amount=limit, category="", region=regions[code], priority=100, active=True,
                               steps=[("warehouse_supervisor", "warehouse")])


def _load_users(regions: dict[str, Region], warehouses: dict[str, Warehouse], *, reset_passwords: bool) -> None:
    existing = set(get_user_model().objects.filter(username__in=[spec.username for spec in USERS])
                   .values_list("username", flat=True))
    for spec in USERS:
        new_or_reset = reset_passwords or spec.username not in existing
        user = platform.user_upsert(
            username=spec.username, email=f"{spec.username}@concord.example.com", actor=None,
            first_name="" if "." in spec.username else spec.username.title(),
            is_superuser=spec.superuser,
            # finance and process owners work in the admin too
            is_staff=spec.superuser or spec.role in {"finance", "process_owner"},
            password=settings.DEMO_PASSWORD if new_or_reset else None,
            roles=[spec.role] if spec.role else [],
        )
        platform.scope_grant(
            user=user, actor=None, enterprise=spec.enterprise,
            regions=[regions[c] for c in spec.regions], warehouses=[warehouses[c] for c in spec.warehouses],
        )
