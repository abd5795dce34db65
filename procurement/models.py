"""Suppliers, their terms per SKU, requisitions, purchase orders, receipts and put-away rules."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from erp.models import DecimalDigits, TimeStampedModel
from erp.scoping import ScopedBy
from erp.validators import code_validator, currency_validator


class Supplier(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    lead_time_days = models.PositiveSmallIntegerField(default=7)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(lead_time_days__lte=365), name="supplier_lead_time_range"),
            models.CheckConstraint(condition=Q(payment_terms_days__lte=365), name="supplier_payment_terms_range"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="supplier_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


# --- procure to pay ------------------------------------------------------------------------------------------
#
# A supplier's terms per SKU (``SupplierItem``); a requisition asks for goods (``PurchaseRequisition``); its
# approved lines become purchase orders, one per supplier and receiving warehouse (``PurchaseOrder``), which the
# approval engine routes by ``procurement.approval_matrix``; receipts post what arrives (``Receipt``) at the
# order's price in the buying entity's currency, landed with their freight, where the put-away rules say
# (``PutawayRule``). Lifecycles are ``procurement.rules``; every write is a service.

QUANTITY: DecimalDigits = {"max_digits": 18, "decimal_places": 4}
PRICE: DecimalDigits = {"max_digits": 18, "decimal_places": 6}
AMOUNT: DecimalDigits = {"max_digits": 18, "decimal_places": 2}
RATE: DecimalDigits = {"max_digits": 18, "decimal_places": 8}


class SupplierItem(TimeStampedModel):
    """What one supplier sells of one SKU and on which terms.

    ``unit_price`` is per ``uom`` (the unit the supplier sells in, one of the item's units) in ``currency``;
    ``min_order_quantity`` and ``pack_multiple`` are in that unit too. ``preferred`` marks the network's standard
    supplier of the SKU (at most one); a region's own choice is a governed deviation of
    ``procurement.preferred_suppliers``.
    """

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="items")
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    supplier_sku = models.CharField(max_length=64, blank=True)
    uom = models.ForeignKey("inventory.UnitOfMeasure", on_delete=models.PROTECT, related_name="+")
    unit_price = models.DecimalField(**PRICE)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    min_order_quantity = models.DecimalField(**QUANTITY, default=1)
    pack_multiple = models.DecimalField(**QUANTITY, default=1)
    lead_time_days = models.PositiveSmallIntegerField(null=True, blank=True,
                                                      help_text="Empty: the supplier's lead time.")
    preferred = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["supplier_id", "item_id"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "item"], name="supplieritem_unique"),
            models.UniqueConstraint(fields=["item"], condition=Q(preferred=True),
                                    name="supplieritem_one_preferred_per_item"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="supplieritem_price_positive"),
            models.CheckConstraint(condition=Q(min_order_quantity__gt=0, pack_multiple__gt=0),
                                   name="supplieritem_quantities_positive"),
            models.CheckConstraint(condition=Q(lead_time_days__isnull=True) | Q(lead_time_days__lte=365),
                                   name="supplieritem_lead_time_range"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="supplieritem_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.supplier_id}: {self.item_id}"


class RequisitionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ORDERED = "ordered", "Ordered"
    CANCELLED = "cancelled", "Cancelled"


class RequisitionSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    REPLENISHMENT = "replenishment", "Replenishment"


class PurchaseRequisition(TimeStampedModel):
    """A request to buy for one warehouse, approved through the engine before anything is ordered."""

    number = models.CharField(max_length=20, unique=True)
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=20, choices=RequisitionSource.choices, default=RequisitionSource.MANUAL)
    status = models.CharField(max_length=20, choices=RequisitionStatus.choices, default=RequisitionStatus.DRAFT)
    note = models.CharField(max_length=500, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    value = models.DecimalField(**AMOUNT, null=True, blank=True,
                                help_text="At the suppliers' prices in the buying entity's currency, when submitted.")
    approval_request = models.ForeignKey("governance.ApprovalRequest", on_delete=models.PROTECT, null=True,
                                         blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RequisitionStatus.values),
                                   name="purchaserequisition_status_valid"),
            models.CheckConstraint(condition=Q(source__in=RequisitionSource.values),
                                   name="purchaserequisition_source_valid"),
        ]
        indexes = [models.Index(fields=["warehouse", "status"])]

    def __str__(self) -> str:
        return self.number


class PurchaseRequisitionLine(models.Model):
    """``quantity`` (base units) of an item needed by a date; ``supplier`` suggested (the preferred one when not
    given); ``order_line`` once it is on a purchase order."""

    requisition = models.ForeignKey(PurchaseRequisition, on_delete=models.CASCADE, related_name="lines")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    uom_quantity = models.DecimalField(**QUANTITY)
    uom_code = models.CharField(max_length=16)
    needed_by = models.DateField()
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    order_line = models.ForeignKey("procurement.PurchaseOrderLine", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="requisition_lines")

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["requisition_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["requisition", "line_no"], name="purchaserequisitionline_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0, uom_quantity__gt=0),
                                   name="purchaserequisitionline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.requisition_id}/{self.line_no}"


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    SENT = "sent", "Sent"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class PurchaseOrder(TimeStampedModel):
    """An order to one supplier for one receiving warehouse, in the supplier's currency.

    ``total`` is the lines' sum in ``currency``; at submission ``rate`` (the dated rate to the buying legal
    entity's currency) gives ``base_total`` in ``base_currency``, what the approval matrix compares. Once
    submitted an order's terms are frozen (a database trigger, ``procurement/migrations``): a change is a new
    ``revision``, back through approval; each approved revision is kept in ``PurchaseOrderRevision``.
    """

    number = models.CharField(max_length=20, unique=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    legal_entity = models.ForeignKey("warehouses.LegalEntity", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=PurchaseOrderStatus.choices,
                              default=PurchaseOrderStatus.DRAFT)
    revision = models.PositiveIntegerField(default=1)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(**AMOUNT, default=0)
    base_currency = models.CharField(max_length=3)
    rate = models.DecimalField(**RATE, null=True, blank=True)
    base_total = models.DecimalField(**AMOUNT, null=True, blank=True)
    category = models.CharField(max_length=100, blank=True,
                                help_text="The category of most of its value: what the approval matrix routes by.")
    order_date = models.DateField()
    supplier_reference = models.CharField(max_length=64, blank=True, help_text="The supplier's ASN or order number.")
    note = models.CharField(max_length=500, blank=True)
    copied_from = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approval_request = models.ForeignKey("governance.ApprovalRequest", on_delete=models.PROTECT, null=True,
                                         blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PurchaseOrderStatus.values),
                                   name="purchaseorder_status_valid"),
            models.CheckConstraint(condition=Q(total__gte=0), name="purchaseorder_total_non_negative"),
            models.CheckConstraint(
                condition=Q(status__in=[PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.CANCELLED])
                | Q(rate__isnull=False, base_total__isnull=False, submitted_at__isnull=False),
                name="purchaseorder_submitted_is_valued",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[PurchaseOrderStatus.APPROVED, PurchaseOrderStatus.SENT,
                                         PurchaseOrderStatus.PARTIALLY_RECEIVED, PurchaseOrderStatus.RECEIVED,
                                         PurchaseOrderStatus.CLOSED]) | Q(approved_at__isnull=False),
                name="purchaseorder_approved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["warehouse", "status"]), models.Index(fields=["supplier", "status"])]

    def __str__(self) -> str:
        return self.number


def open_quantity_of_line() -> models.Expression:
    """``PurchaseOrderLine.open_quantity`` in SQL: ordered - received, never below 0."""
    return models.Func(F("quantity") - F("received_quantity"), models.Value(0), function="GREATEST",
                       output_field=models.DecimalField(**QUANTITY))


class PurchaseOrderLine(models.Model):
    """``quantity`` (base units) of an item at ``unit_price`` per ordered unit (``uom_code``, ``uom_quantity`` of
    them) in the order's currency, expected on ``expected_date`` (the supplier's latest word). ``received_quantity``
    arrived (within ``procurement.over_receipt_tolerance`` of ``quantity``)."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    uom_quantity = models.DecimalField(**QUANTITY)
    uom_code = models.CharField(max_length=16)
    unit_price = models.DecimalField(**PRICE)
    line_total = models.DecimalField(**AMOUNT)
    expected_date = models.DateField()
    promised_date = models.DateField(help_text="The date the supplier first confirmed; expected_date moves.")
    received_quantity = models.DecimalField(**QUANTITY, default=0)
    late_raised_on = models.DateField(null=True, blank=True,
                                      help_text="When late_receipt was last raised for this line's expected date.")

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["order_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="purchaseorderline_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0, uom_quantity__gt=0),
                                   name="purchaseorderline_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="purchaseorderline_price_positive"),
            models.CheckConstraint(condition=Q(line_total__gte=0), name="purchaseorderline_total_non_negative"),
            models.CheckConstraint(condition=Q(received_quantity__gte=0),
                                   name="purchaseorderline_received_non_negative"),
        ]
        indexes = [models.Index(fields=["item", "warehouse"]), models.Index(fields=["expected_date"])]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no}"

    @property
    def open_quantity(self) -> Decimal:
        return max(self.quantity - self.received_quantity, Decimal(0))


class PurchaseOrderRevision(models.Model):
    """An approved revision of an order as it was approved: its lines and totals, and the request that approved
    it. A revision is never changed (append-only)."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="revisions")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    revision = models.PositiveIntegerField()
    total = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    base_total = models.DecimalField(**AMOUNT)
    lines = models.JSONField()
    approval_request = models.ForeignKey("governance.ApprovalRequest", on_delete=models.PROTECT, null=True,
                                         blank=True, related_name="+")
    approved_at = models.DateTimeField()

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["order_id", "revision"]
        constraints = [models.UniqueConstraint(fields=["order", "revision"], name="purchaseorderrevision_unique")]

    def __str__(self) -> str:
        return f"{self.order_id} rev {self.revision}"


class FreightMethod(models.TextChoices):
    QUANTITY = "quantity", "By quantity"
    VALUE = "value", "By value"
    WEIGHT = "weight", "By weight"


class Receipt(TimeStampedModel):
    """Goods received against an approved purchase order, posted to the ledger at once.

    ``freight_amount`` in ``freight_currency`` is spread over the lines by ``freight_method``
    (``ReceiptLine.freight``, in the entity's currency, summing exactly to the converted freight).
    """

    number = models.CharField(max_length=20, unique=True)
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    supplier_reference = models.CharField(max_length=64, blank=True, help_text="The ASN or delivery note scanned.")
    currency = models.CharField(max_length=3, help_text="The buying entity's: what the lines cost in.")
    rate = models.DecimalField(**RATE, help_text="Order currency to entity currency on the receipt's date.")
    freight_amount = models.DecimalField(**AMOUNT, null=True, blank=True)
    freight_currency = models.CharField(max_length=3, blank=True)
    freight_method = models.CharField(max_length=10, choices=FreightMethod.choices, blank=True)
    freight_base = models.DecimalField(**AMOUNT, default=0, help_text="The freight in the entity's currency.")
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    posted_at = models.DateTimeField()

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(freight_amount__isnull=True, freight_currency="", freight_method="", freight_base=0)
                           | Q(freight_amount__gte=0, freight_method__in=FreightMethod.values,
                               freight_currency__regex=r"^[A-Z]{3}$")),
                name="receipt_freight_complete",
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="receipt_rate_positive"),
        ]
        indexes = [models.Index(fields=["warehouse", "posted_at"])]
        permissions = [("allow_over_receipt", "Can allow a receipt beyond procurement.over_receipt_tolerance")]

    def __str__(self) -> str:
        return self.number


class ReceiptLine(models.Model):
    """One received part of an order line: ``quantity`` (base units) of a lot (lot-tracked items) in a stock
    status at a location, at ``unit_cost`` in the entity's currency (the order's price converted, plus this
    part's share of the freight, ``freight``, per unit ``landed``)."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=32, help_text="The stock status it was received in.")
    quantity = models.DecimalField(**QUANTITY)
    uom_quantity = models.DecimalField(**QUANTITY)
    uom_code = models.CharField(max_length=16)
    price_cost = models.DecimalField(**PRICE, help_text="The order's unit price per base unit, in entity currency.")
    freight = models.DecimalField(**AMOUNT, default=0, help_text="This line's share of the freight, entity currency.")
    unit_cost = models.DecimalField(**PRICE, help_text="price_cost + freight / quantity: what the ledger posted.")
    over_quantity = models.DecimalField(**QUANTITY, default=0,
                                        help_text="Of quantity, beyond the line's ordered quantity.")
    over_allowed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+")
    move = models.OneToOneField("inventory.StockMove", on_delete=models.PROTECT, related_name="+",
                                help_text="The ledger line that put this part on the shelf.")

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["receipt_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "line_no"], name="receiptline_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0, uom_quantity__gt=0),
                                   name="receiptline_quantity_positive"),
            models.CheckConstraint(condition=Q(price_cost__gte=0, unit_cost__gte=0, freight__gte=0),
                                   name="receiptline_costs_non_negative"),
            models.CheckConstraint(condition=Q(over_quantity__gte=0, over_quantity__lte=F("quantity")),
                                   name="receiptline_over_within_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_id}/{self.line_no}"


class PutawayRule(TimeStampedModel):
    """Where received stock of a SKU (or of a category) goes at a warehouse: the lowest ``priority`` first, each
    location holding at most ``max_quantity`` (base units) of it, or any amount when empty."""

    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    category = models.CharField(max_length=100, blank=True)
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    priority = models.PositiveSmallIntegerField(default=100)
    max_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["warehouse_id", "priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(item__isnull=False, category="") | (Q(item__isnull=True) & ~Q(category="")),
                name="putawayrule_sku_or_category",
            ),
            models.CheckConstraint(condition=Q(max_quantity__isnull=True) | Q(max_quantity__gt=0),
                                   name="putawayrule_max_positive"),
            models.UniqueConstraint(fields=["warehouse", "item", "category", "location"], nulls_distinct=False,
                                    name="putawayrule_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.warehouse_id}: {self.item_id or self.category} -> {self.location_id}"


class LandedCost(TimeStampedModel):
    """A freight bill that arrived after its receipt: ``amount`` in ``currency`` (``base_amount`` in the entity's)
    spread over the receipt's lines by ``method``. ``revalued`` of it raised the cost of what was still on hand;
    ``issued`` belongs to goods already issued, for finance to post (#13)."""

    number = models.CharField(max_length=20, unique=True)
    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="landed_costs")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    bill_reference = models.CharField(max_length=64, blank=True, help_text="The carrier's or supplier's bill.")
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=10, choices=FreightMethod.choices)
    rate = models.DecimalField(**RATE)
    base_amount = models.DecimalField(**AMOUNT)
    revalued = models.DecimalField(**AMOUNT)
    issued = models.DecimalField(**AMOUNT)
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    posted_at = models.DateTimeField()

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0, base_amount__gte=0, rate__gt=0),
                                   name="landedcost_amounts_positive"),
            models.CheckConstraint(condition=Q(base_amount=F("revalued") + F("issued")),
                                   name="landedcost_split_adds_up"),
            models.CheckConstraint(condition=Q(method__in=FreightMethod.values), name="landedcost_method_valid"),
        ]

    def __str__(self) -> str:
        return self.number


class LandedCostLine(models.Model):
    """One receipt line's share of a later freight bill, and how much of it went onto stock still on hand."""

    landed_cost = models.ForeignKey(LandedCost, on_delete=models.CASCADE, related_name="lines")
    receipt_line = models.ForeignKey(ReceiptLine, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    share = models.DecimalField(**AMOUNT)
    revalued = models.DecimalField(**AMOUNT)
    issued = models.DecimalField(**AMOUNT)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["landed_cost_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(share=F("revalued") + F("issued")), name="landedcostline_split_adds_up"),
            models.CheckConstraint(condition=Q(share__gte=0, revalued__gte=0, issued__gte=0),
                                   name="landedcostline_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.landed_cost_id}: {self.receipt_line_id}"
