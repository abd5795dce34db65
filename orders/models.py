"""Customers and ship-to addresses; sales orders, their lines and the stock allocated to them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from erp.models import DecimalDigits, TimeStampedModel
from erp.scoping import ScopedBy
from erp.validators import code_validator, country_validator


class Customer(TimeStampedModel):
    """A customer belongs to a region and has a home warehouse, where allocation looks first."""

    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    region = models.ForeignKey("warehouses.Region", on_delete=models.PROTECT, related_name="customers")
    home_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="customers")
    allow_partial_shipment = models.BooleanField(default=True)
    email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy("region", "region")

    class Meta(TimeStampedModel.Meta):
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ShipTo(TimeStampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ship_tos")
    code = models.CharField(max_length=32, validators=[code_validator])
    name = models.CharField(max_length=200)
    address_line1 = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, validators=[country_validator])
    region = models.ForeignKey("warehouses.Region", on_delete=models.PROTECT, related_name="+")
    default = models.BooleanField(
        default=False, help_text="Where an order goes when it names no ship-to address; at most one per customer.")

    scoped_by = ScopedBy("region", "customer__region")

    class Meta(TimeStampedModel.Meta):
        verbose_name = "ship-to address"
        constraints = [
            models.UniqueConstraint(fields=["customer", "code"], name="shipto_code_unique_per_customer"),
            models.UniqueConstraint(fields=["customer"], condition=Q(default=True),
                                    name="shipto_one_default_per_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.customer.code}/{self.code}"


# --- sales orders ---------------------------------------------------------------------------------------

QUANTITY: DecimalDigits = {"max_digits": 18, "decimal_places": 4}


class OrderStatus(models.TextChoices):
    """One lifecycle for every warehouse, for orders and their lines (``orders.rules.ORDER_TRANSITIONS``)."""

    DRAFT = "draft", "Draft"
    CONFIRMED = "confirmed", "Confirmed"
    ALLOCATED = "allocated", "Allocated"
    PARTIALLY_ALLOCATED = "partially_allocated", "Partially allocated"
    BACKORDERED = "backordered", "Backordered"
    PICKING = "picking", "Picking"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class SalesOrder(TimeStampedModel):
    """A customer's order: header and lines. ``external_ref`` (the customer's or integrator's reference) is
    unique per customer when given. Written only by ``orders.services``."""

    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    ship_to = models.ForeignKey(ShipTo, on_delete=models.PROTECT, related_name="+")
    # The customer's region when the order was taken: where the order is worked and who sees it.
    region = models.ForeignKey("warehouses.Region", on_delete=models.PROTECT, related_name="+")
    external_ref = models.CharField(max_length=64, blank=True)
    requested_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Why it was cancelled, as the canceller gave it (blank when none was given).
    cancel_reason = models.CharField(max_length=500, blank=True, default="")

    scoped_by = ScopedBy("region", "region")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "external_ref"], condition=~Q(external_ref=""),
                                    name="salesorder_external_ref_unique_per_customer"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="salesorder_status_valid"),
        ]
        indexes = [models.Index(fields=["region", "status"]), models.Index(fields=["customer", "-id"])]

    def __str__(self) -> str:
        return self.number


class SalesOrderLine(models.Model):
    """One line: ``quantity`` in the item's base unit (``uom_quantity`` and ``uom_code`` as entered).

    ``allocated_quantity`` is held in warehouses by open ``Allocation`` rows, ``backordered_quantity``
    waits for stock; ``promised_date`` is the delivery promised at confirmation and ``shipped_complete_on``
    the date the line's last unit shipped (fill rate reads both, nobody types them).
    """

    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="lines")
    region = models.ForeignKey("warehouses.Region", on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    uom_quantity = models.DecimalField(**QUANTITY)
    uom_code = models.CharField(max_length=16)
    requested_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.DRAFT)
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    allocated_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    backordered_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    shipped_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    ship_date = models.DateField(null=True, blank=True)
    promised_date = models.DateField(null=True, blank=True)
    shipped_complete_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scoped_by = ScopedBy("region", "region")

    class Meta:
        ordering = ["order_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="salesorderline_line_no_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="salesorderline_quantity_positive"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="salesorderline_status_valid"),
            models.CheckConstraint(
                condition=Q(allocated_quantity__gte=0, backordered_quantity__gte=0, shipped_quantity__gte=0),
                name="salesorderline_quantities_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(allocated_quantity__lte=models.F("quantity") - models.F("shipped_quantity")
                            - models.F("backordered_quantity")),
                name="salesorderline_allocated_within_open_quantity",
            ),
        ]
        indexes = [models.Index(fields=["item", "status"]), models.Index(fields=["region", "promised_date"])]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no}"


class AllocationStatus(models.TextChoices):
    OPEN = "open", "Open"
    RELEASED = "released", "Released"
    SHIPPED = "shipped", "Shipped"


class Allocation(models.Model):
    """Stock of one warehouse (and lot, for a lot-tracked item) held for one order line.

    The open allocations of an item at a warehouse add up to ``ItemWarehouseSummary.allocated`` (both
    change in the same transaction, under the summary's row lock; ``check_order_invariants`` proves it).
    """

    line = models.ForeignKey(SalesOrderLine, on_delete=models.PROTECT, related_name="allocations")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    status = models.CharField(max_length=10, choices=AllocationStatus.choices, default=AllocationStatus.OPEN)
    ship_date = models.DateField(null=True, blank=True)
    promised_date = models.DateField(null=True, blank=True)
    # The pick list this allocation is on (null: allocated, not yet released to picking).
    pick_list = models.ForeignKey("PickList", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="allocations")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["line_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="allocation_quantity_positive"),
            models.CheckConstraint(condition=Q(status__in=AllocationStatus.values), name="allocation_status_valid"),
        ]
        indexes = [
            models.Index(fields=["item", "warehouse"], condition=Q(status="open"), name="allocation_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of item {self.item_id} at warehouse {self.warehouse_id} for line {self.line_id}"


# --- picking -----------------------------------------------------------------------------------------------


class PickListStatus(models.TextChoices):
    OPEN = "open", "Open"
    PICKED = "picked", "Picked"
    CANCELLED = "cancelled", "Cancelled"


class PickListKind(models.TextChoices):
    ORDER = "order", "By order"
    WAVE = "wave", "Wave"


class PickList(TimeStampedModel):
    """A list of allocated stock to pick at one warehouse: one order's, or a wave of every order due to ship
    by ``wave_cutoff`` (a local ship date). Lines are sorted by location path (``sequence``), the walk
    through the warehouse. ``orders.rules.PICK_LIST_TRANSITIONS``; ``orders.services.picking`` writes it."""

    number = models.CharField(max_length=20, unique=True)
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=PickListKind.choices)
    order = models.ForeignKey(SalesOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="pick_lists")
    wave_cutoff = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=PickListStatus.choices, default=PickListStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    picked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    picked_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PickListStatus.values), name="picklist_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=PickListKind.values), name="picklist_kind_valid"),
            models.CheckConstraint(condition=Q(kind="order", order__isnull=False) | Q(kind="wave"),
                                   name="picklist_order_list_has_order"),
        ]
        indexes = [models.Index(fields=["warehouse", "status"])]

    def __str__(self) -> str:
        return self.number


class PickLineStatus(models.TextChoices):
    OPEN = "open", "Open"
    PICKED = "picked", "Picked"
    SHORT = "short", "Picked short"
    CANCELLED = "cancelled", "Cancelled"


class PickListLine(models.Model):
    """Pick ``quantity`` of an allocation at ``location`` (and ``lot``). Confirming records ``picked_quantity``
    and ``picked_lot``; less than asked is a short pick. Shipping posts the picked stock out of ``location``."""

    pick_list = models.ForeignKey(PickList, on_delete=models.CASCADE, related_name="lines")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveIntegerField()
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="pick_lines")
    order_line = models.ForeignKey(SalesOrderLine, on_delete=models.PROTECT, related_name="pick_lines")
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    picked_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    picked_lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    status = models.CharField(max_length=10, choices=PickLineStatus.choices, default=PickLineStatus.OPEN)
    updated_at = models.DateTimeField(auto_now=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["pick_list_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["pick_list", "sequence"], name="picklistline_sequence_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="picklistline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(picked_quantity__isnull=True)
                | Q(picked_quantity__gte=0, picked_quantity__lte=models.F("quantity")),
                name="picklistline_picked_within_quantity",
            ),
            models.CheckConstraint(condition=Q(status__in=PickLineStatus.values), name="picklistline_status_valid"),
        ]
        indexes = [models.Index(fields=["allocation"])]

    def __str__(self) -> str:
        return f"{self.pick_list_id}/{self.sequence}"


# --- packing and shipping ----------------------------------------------------------------------------------


class ShipmentStatus(models.TextChoices):
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


class ShipmentDocumentKind(models.TextChoices):
    """The documents ``documents.required_for_shipment`` may ask for."""

    PACKING_SLIP = "packing_slip", "Packing slip"
    COMMERCIAL_INVOICE = "commercial_invoice", "Commercial invoice"
    BILL_OF_LADING = "bill_of_lading", "Bill of lading"
    CERTIFICATE_OF_ORIGIN = "certificate_of_origin", "Certificate of origin"
    DANGEROUS_GOODS_DECLARATION = "dangerous_goods_declaration", "Dangerous goods declaration"


class Shipment(TimeStampedModel):
    """Picked stock of one order leaving one warehouse: packed into packages, shipped with a carrier and a
    tracking number, delivered. Shipping posts the stock out of the ledger at the current cost.
    ``orders.rules.SHIPMENT_TRANSITIONS``; ``orders.services.shipping`` writes it."""

    number = models.CharField(max_length=20, unique=True)
    order = models.ForeignKey(SalesOrder, on_delete=models.PROTECT, related_name="shipments")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    carrier = models.ForeignKey("warehouses.Carrier", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    tracking_number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=ShipmentStatus.choices, default=ShipmentStatus.PACKED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    shipped_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    shipped_at = models.DateTimeField(null=True, blank=True)
    ship_date = models.DateField(null=True, blank=True)  # local date at the warehouse when it left
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_note = models.CharField(max_length=500, blank=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"),
            models.CheckConstraint(condition=Q(status__in=["packed", "cancelled"]) | Q(shipped_at__isnull=False),
                                   name="shipment_shipped_has_time"),
        ]
        indexes = [models.Index(fields=["warehouse", "status"])]

    def __str__(self) -> str:
        return self.number


class ShipmentLine(models.Model):
    """What one pick line put into the shipment. ``unit_cost`` and ``value`` are the ledger move's, set on
    shipping: the cost of goods sold, for finance."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    pick_line = models.OneToOneField(PickListLine, on_delete=models.PROTECT, related_name="shipment_line")
    order_line = models.ForeignKey(SalesOrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="shipment_lines")
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    unit_cost = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    value = models.DecimalField(**QUANTITY, null=True, blank=True)
    stock_move = models.ForeignKey("inventory.StockMove", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["shipment_id", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentline_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.shipment_id}/{self.id}"


class Package(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="packages")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    weight_kg = models.DecimalField(max_digits=10, decimal_places=3)
    length_cm = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    width_cm = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    height_cm = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["shipment_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "number"], name="package_number_unique"),
            models.CheckConstraint(condition=Q(weight_kg__gt=0), name="package_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}#{self.number}"


class ShipmentDocument(models.Model):
    """A document attached to a shipment (the packing slip is generated on packing; the others are attached
    by reference). ``documents.required_for_shipment`` names the kinds that must be here before shipping."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="documents")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=40, choices=ShipmentDocumentKind.choices)
    reference = models.CharField(max_length=200, blank=True)
    attached_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["shipment_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "kind"], name="shipmentdocument_kind_unique"),
            models.CheckConstraint(condition=Q(kind__in=ShipmentDocumentKind.values),
                                   name="shipmentdocument_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.kind}"


# --- returns -----------------------------------------------------------------------------------------------


class ReturnStatus(models.TextChoices):
    AUTHORIZED = "authorized", "Authorized"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class Disposition(models.TextChoices):
    RESTOCK = "restock", "Restock (available)"
    QUARANTINE = "quarantine", "Quarantine (quality hold)"
    DAMAGED = "damaged", "Damaged"


class ReturnAuthorization(TimeStampedModel):
    """A return (RMA) against shipped lines of one order, received at ``warehouse``.
    ``orders.rules.RETURN_TRANSITIONS``; ``orders.services.returns`` writes it."""

    number = models.CharField(max_length=20, unique=True)
    order = models.ForeignKey(SalesOrder, on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=ReturnStatus.choices, default=ReturnStatus.AUTHORIZED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    received_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ReturnStatus.values), name="return_status_valid"),
        ]
        indexes = [models.Index(fields=["warehouse", "status"])]

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    """``quantity`` of a shipped order line authorized back; receiving records what came and its
    disposition, each a ledger move."""

    rma = models.ForeignKey(ReturnAuthorization, on_delete=models.CASCADE, related_name="lines")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    order_line = models.ForeignKey(SalesOrderLine, on_delete=models.PROTECT, related_name="return_lines")
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    received_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    disposition = models.CharField(max_length=12, choices=Disposition.choices, blank=True)
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    note = models.CharField(max_length=500, blank=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["rma_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["rma", "line_no"], name="returnline_line_no_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returnline_quantity_positive"),
            models.CheckConstraint(condition=Q(received_quantity__gte=0, received_quantity__lte=models.F("quantity")),
                                   name="returnline_received_within_quantity"),
            models.CheckConstraint(condition=Q(disposition__in=["", *Disposition.values]),
                                   name="returnline_disposition_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.rma_id}/{self.line_no}"
