"""Items and units of measure; the inventory core: stock statuses, lots, the append-only ledger, balances, cost."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from erp.models import DecimalDigits, TimeStampedModel
from erp.scoping import ScopedBy
from erp.validators import code_validator, sku_validator, status_code_validator


class UnitOfMeasure(TimeStampedModel):
    code = models.CharField(max_length=16, unique=True, validators=[code_validator])
    name = models.CharField(max_length=100)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["code"]
        verbose_name = "unit of measure"
        verbose_name_plural = "units of measure"

    def __str__(self) -> str:
        return self.code


class Item(TimeStampedModel):
    """One item master for the whole network. Quantities are kept in ``base_uom``."""

    sku = models.CharField(max_length=40, unique=True, validators=[sku_validator])
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    base_uom = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="+")
    lot_tracked = models.BooleanField(default=False)
    shelf_life_days = models.PositiveIntegerField(null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(
                condition=Q(shelf_life_days__isnull=True) | Q(shelf_life_days__gte=1, shelf_life_days__lte=36500),
                name="item_shelf_life_range",
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gte=0), name="item_weight_non_negative"
            ),
        ]
        # Screens find a SKU typed in any case (``inventory.selectors.items_by_sku``).
        indexes = [models.Index(Upper("sku"), name="item_sku_upper")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class ItemUom(TimeStampedModel):
    """How many base units one ``uom`` holds for this item (a case of 12: factor 12)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="uoms")
    uom = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="+")
    factor = models.DecimalField(max_digits=18, decimal_places=6)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        verbose_name = "item unit conversion"
        constraints = [
            models.UniqueConstraint(fields=["item", "uom"], name="itemuom_unique"),
            models.CheckConstraint(condition=Q(factor__gt=0), name="itemuom_factor_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.item.sku}: 1 {self.uom.code} = {self.factor}"


# --- the inventory core: statuses, lots, the ledger, balances and cost ---------------------------------


class StockStatus(TimeStampedModel):
    """A status stock can be in, identical in every warehouse (seeded by migration ``0003``).

    ``counts_toward_available``: the quantity is part of "available" (only ``available`` today);
    everything else is reported as blocked. ``allocatable``: orders may be promised from it.
    ``valued``: the quantity enters the moving-average cost of its legal entity. ``in_transit`` is on the
    books but not ``valued`` in that sense: it is valued at the cost it left its source at, carried unchanged
    to its target (``warehouses.transfers``), and ``damaged`` stock is off the books.
    """

    code = models.CharField(max_length=32, unique=True, validators=[status_code_validator])
    name = models.CharField(max_length=100)
    counts_toward_available = models.BooleanField(default=False)
    allocatable = models.BooleanField(default=False)
    valued = models.BooleanField(default=True)
    gl_account_code = models.CharField(max_length=32, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["sort_order", "code"]
        verbose_name_plural = "stock statuses"
        constraints = [
            models.CheckConstraint(
                condition=Q(allocatable=False) | Q(counts_toward_available=True),
                name="stockstatus_allocatable_counts_toward_available",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class ReasonCodeUse(models.TextChoices):
    ADJUSTMENT = "adjustment", "Adjustment"
    STATUS_CHANGE = "status_change", "Status change"


class ReasonCode(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    description = models.CharField(max_length=200)
    applies_to = models.CharField(max_length=16, choices=ReasonCodeUse.choices)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(applies_to__in=ReasonCodeUse.values),
                                   name="reasoncode_applies_to_valid"),
        ]

    def __str__(self) -> str:
        return self.code


class StatusTransition(TimeStampedModel):
    """An allowed status change, and the reasons that may justify it."""

    from_status = models.ForeignKey(StockStatus, on_delete=models.PROTECT, related_name="transitions_out")
    to_status = models.ForeignKey(StockStatus, on_delete=models.PROTECT, related_name="transitions_in")
    reason_codes = models.ManyToManyField(ReasonCode, related_name="transitions", blank=True)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["from_status", "to_status"], name="statustransition_unique"),
            models.CheckConstraint(condition=~Q(from_status=models.F("to_status")), name="statustransition_not_same"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status_id}->{self.to_status_id}"


class Lot(TimeStampedModel):
    """A lot of one item. ``expiry_date`` is given at receipt or is ``received_on`` plus the shelf life."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=64)
    expiry_date = models.DateField(null=True, blank=True)
    received_on = models.DateField()

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["item_id", "expiry_date", "lot_number"]
        constraints = [
            models.UniqueConstraint(fields=["item", "lot_number"], name="lot_number_unique_per_item"),
            models.CheckConstraint(condition=~Q(lot_number=""), name="lot_number_not_blank"),
        ]

    def __str__(self) -> str:
        return self.lot_number


QUANTITY: DecimalDigits = {"max_digits": 18, "decimal_places": 4}
UNIT_COST: DecimalDigits = {"max_digits": 18, "decimal_places": 6}


class StockMove(models.Model):
    """One signed line of the append-only stock ledger, in the item's base unit.

    Never updated or deleted: the trigger ``stockmove_append_only`` (migration ``0002``) refuses it;
    a correction is a new move. ``value`` is ``quantity * unit_cost`` rounded once to 4 places.
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.ForeignKey(StockStatus, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    unit_cost = models.DecimalField(**UNIT_COST)
    value = models.DecimalField(**QUANTITY)
    reason = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reference_type = models.CharField(max_length=32)
    reference_id = models.CharField(max_length=64, blank=True)
    reference = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="stockmove_quantity_nonzero"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="stockmove_unit_cost_non_negative"),
        ]
        indexes = [
            models.Index(fields=["warehouse", "item", "created_at"]),
            models.Index(fields=["item", "location", "lot", "status"]),
            models.Index(fields=["reference_type", "reference_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of item {self.item_id} at {self.location_id}"


class StockBalance(models.Model):
    """On hand per item, location, lot and status: always the sum of its moves (checked by
    ``check_inventory_invariants``), changed only by ``inventory.stock.post_moves`` in the moves' transaction."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.ForeignKey(StockStatus, on_delete=models.PROTECT, related_name="+")
    on_hand = models.DecimalField(**QUANTITY, default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["item_id", "location_id", "lot_id", "status_id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "location", "lot", "status"], nulls_distinct=False,
                                    name="stockbalance_unique_key"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stockbalance_on_hand_non_negative"),
        ]
        indexes = [models.Index(fields=["warehouse", "item"])]

    def __str__(self) -> str:
        return f"{self.on_hand} of item {self.item_id} at {self.location_id}"


class ItemWarehouseSummary(models.Model):
    """Per item and warehouse: on hand, the allocatable part, the blocked part and what is allocated.

    ``allocatable_on_hand`` sums balances in allocatable statuses (expired lots included: FEFO and
    allocation skip them, see ``inventory.selectors.fefo_lots``); ``blocked`` sums statuses that do
    not count toward available. ``0 <= allocated <= allocatable_on_hand`` is a check constraint.
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    on_hand = models.DecimalField(**QUANTITY, default=Decimal(0))
    allocatable_on_hand = models.DecimalField(**QUANTITY, default=Decimal(0))
    blocked = models.DecimalField(**QUANTITY, default=Decimal(0))
    allocated = models.DecimalField(**QUANTITY, default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["item_id", "warehouse_id"]
        verbose_name = "item-warehouse summary"
        verbose_name_plural = "item-warehouse summaries"
        constraints = [
            models.UniqueConstraint(fields=["item", "warehouse"], name="itemwarehousesummary_unique"),
            models.CheckConstraint(
                condition=Q(on_hand__gte=0, allocatable_on_hand__gte=0, blocked__gte=0),
                name="itemwarehousesummary_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(allocated__gte=0, allocated__lte=models.F("allocatable_on_hand")),
                name="itemwarehousesummary_allocated_within_allocatable",
            ),
        ]
        indexes = [models.Index(fields=["warehouse", "item"])]

    def __str__(self) -> str:
        return f"item {self.item_id} at warehouse {self.warehouse_id}"


class ItemCost(models.Model):
    """Moving-average unit cost of an item in a legal entity, over its valued on-hand ``quantity``."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    legal_entity = models.ForeignKey("warehouses.LegalEntity", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    unit_cost = models.DecimalField(**UNIT_COST, default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    scoped_by = ScopedBy("legal_entity", "legal_entity")

    class Meta:
        ordering = ["item_id", "legal_entity_id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "legal_entity"], name="itemcost_unique"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="itemcost_unit_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} in {self.legal_entity_id}: {self.unit_cost}"


# --- documents ------------------------------------------------------------------------------------------


class AdjustmentStatus(models.TextChoices):
    POSTED = "posted", "Posted"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    REJECTED = "rejected", "Rejected"


class StockAdjustment(TimeStampedModel):
    """A signed adjustment of ``available`` stock at one location, posted at once or after approval.

    ``quantity`` is in base units (``uom_quantity`` and ``uom_code`` keep what was entered);
    ``value`` is ``quantity`` at the moving-average cost when it was requested, and decides (with the
    on-hand) whether it needed approval. ``move`` is the ledger line once posted. The lifecycle is
    ``inventory.rules.ADJUSTMENT_TRANSITIONS``; ``services.stock_adjustment_create`` writes it.
    """

    number = models.CharField(max_length=20, unique=True)
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    uom_quantity = models.DecimalField(**QUANTITY)
    uom_code = models.CharField(max_length=16)
    reason = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=AdjustmentStatus.choices)
    unit_cost = models.DecimalField(**UNIT_COST, default=Decimal(0))
    value = models.DecimalField(**QUANTITY, default=Decimal(0))
    approval_request = models.ForeignKey("governance.ApprovalRequest", on_delete=models.PROTECT, null=True,
                                         blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    posted_at = models.DateTimeField(null=True, blank=True)
    move = models.ForeignKey(StockMove, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        permissions = [("change_stock_status", "Move stock between statuses")]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="stockadjustment_quantity_nonzero"),
            models.CheckConstraint(condition=Q(status__in=AdjustmentStatus.values),
                                   name="stockadjustment_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=AdjustmentStatus.POSTED) | Q(move__isnull=False, posted_at__isnull=False),
                name="stockadjustment_posted_has_move",
            ),
        ]
        indexes = [models.Index(fields=["warehouse", "status"])]

    def __str__(self) -> str:
        return self.number


# --- cycle counts ---------------------------------------------------------------------------------------


class AbcClass(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"


class ItemAbcClass(models.Model):
    """The ABC class of an item at a warehouse, recomputed by each count plan run.

    ``basis_value`` is what ranked it: the value issued from the warehouse over the last 365 days,
    or its on-hand value when the warehouse issued nothing in that time (``rules.abc_classes``).
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    abc_class = models.CharField(max_length=1, choices=AbcClass.choices)
    basis_value = models.DecimalField(**QUANTITY, default=Decimal(0))
    classified_on = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["warehouse_id", "abc_class", "item_id"]
        verbose_name = "item ABC class"
        verbose_name_plural = "item ABC classes"
        constraints = [
            models.UniqueConstraint(fields=["item", "warehouse"], name="itemabcclass_unique"),
            models.CheckConstraint(condition=Q(abc_class__in=AbcClass.values), name="itemabcclass_class_valid"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} at warehouse {self.warehouse_id}: {self.abc_class}"


class CycleCountStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    POSTED = "posted", "Posted"
    REJECTED = "rejected", "Rejected"
    RECOUNTED = "recounted", "Recounted"
    CANCELLED = "cancelled", "Cancelled"


class CycleCountOrigin(models.TextChoices):
    PLAN = "plan", "Count plan"
    MANUAL = "manual", "Manual"
    RECOUNT = "recount", "Recount"


class CycleCount(TimeStampedModel):
    """A count of location-item pairs at one warehouse, blind while open.

    Made by the daily count plan (``origin=plan``, one per warehouse and ``planned_for`` date), by hand,
    or as the recount of another count's lines beyond tolerance. The lifecycle is
    ``inventory.rules.CYCLE_COUNT_TRANSITIONS``; ``inventory.services.counts`` writes it.
    """

    number = models.CharField(max_length=20, unique=True)
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=CycleCountStatus.choices, default=CycleCountStatus.OPEN)
    origin = models.CharField(max_length=10, choices=CycleCountOrigin.choices)
    planned_for = models.DateField(null=True, blank=True)
    recount_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="recounts")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approval_request = models.ForeignKey("governance.ApprovalRequest", on_delete=models.PROTECT, null=True,
                                         blank=True, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CycleCountStatus.values), name="cyclecount_status_valid"),
            models.CheckConstraint(condition=Q(origin__in=CycleCountOrigin.values), name="cyclecount_origin_valid"),
            models.CheckConstraint(
                condition=Q(origin=CycleCountOrigin.RECOUNT, recount_of__isnull=False)
                | (~Q(origin=CycleCountOrigin.RECOUNT) & Q(recount_of__isnull=True)),
                name="cyclecount_recount_has_original",
            ),
            models.CheckConstraint(
                condition=~Q(origin=CycleCountOrigin.PLAN) | Q(planned_for__isnull=False),
                name="cyclecount_plan_has_date",
            ),
            models.CheckConstraint(
                condition=Q(status=CycleCountStatus.OPEN) | Q(status=CycleCountStatus.CANCELLED)
                | Q(submitted_at__isnull=False),
                name="cyclecount_submitted_has_time",
            ),
            # The count plan runs again and again: one planned count per warehouse and day.
            models.UniqueConstraint(fields=["warehouse", "planned_for"], condition=Q(origin=CycleCountOrigin.PLAN),
                                    name="cyclecount_one_plan_per_warehouse_day"),
        ]
        indexes = [models.Index(fields=["warehouse", "status"])]

    def __str__(self) -> str:
        return self.number


class CycleCountLineState(models.TextChoices):
    PENDING = "pending", "To count"
    COUNTED = "counted", "Counted"
    POSTED = "posted", "Posted"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    REJECTED = "rejected", "Rejected"
    RECOUNT = "recount", "Sent to recount"
    CANCELLED = "cancelled", "Cancelled"


class CycleCountLine(models.Model):
    """One location-item(-lot) of a count: what was counted, what the system held then, and the variance.

    ``expected_quantity`` is the on-hand of that location, item and lot in every status when the line
    was counted; it is never shown while the count is open (blind counting). ``variance`` is counted
    minus expected (a check constraint), valued at ``unit_cost``, the moving-average cost at submission.
    """

    count = models.ForeignKey(CycleCount, on_delete=models.CASCADE, related_name="lines")
    # The count's warehouse, kept on the line (written with it by the service) so that scope, the audit
    # trail and the "last counted" index reach lines without a join.
    warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    abc_class = models.CharField(max_length=1, choices=AbcClass.choices, blank=True)
    state = models.CharField(max_length=20, choices=CycleCountLineState.choices, default=CycleCountLineState.PENDING)
    counted_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    uom_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    uom_code = models.CharField(max_length=16, blank=True)
    expected_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    variance = models.DecimalField(**QUANTITY, null=True, blank=True)
    unit_cost = models.DecimalField(**UNIT_COST, null=True, blank=True)
    variance_value = models.DecimalField(**QUANTITY, null=True, blank=True)
    within_tolerance = models.BooleanField(null=True, blank=True)
    counted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    counted_at = models.DateTimeField(null=True, blank=True)
    move = models.ForeignKey(StockMove, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta:
        ordering = ["count_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["count", "line_no"], name="cyclecountline_line_no_unique"),
            models.UniqueConstraint(fields=["count", "location", "item", "lot"], nulls_distinct=False,
                                    name="cyclecountline_pair_unique"),
            models.CheckConstraint(condition=Q(state__in=CycleCountLineState.values),
                                   name="cyclecountline_state_valid"),
            models.CheckConstraint(condition=Q(counted_quantity__isnull=True) | Q(counted_quantity__gte=0),
                                   name="cyclecountline_counted_non_negative"),
            models.CheckConstraint(
                condition=Q(state__in=[CycleCountLineState.PENDING, CycleCountLineState.CANCELLED])
                | Q(counted_quantity__isnull=False, expected_quantity__isnull=False, counted_at__isnull=False),
                name="cyclecountline_counted_has_quantities",
            ),
            models.CheckConstraint(
                condition=Q(variance__isnull=True)
                | Q(variance=models.F("counted_quantity") - models.F("expected_quantity")),
                name="cyclecountline_variance_is_difference",
            ),
        ]
        indexes = [models.Index(fields=["warehouse", "location", "item", "counted_at"])]

    def __str__(self) -> str:
        return f"{self.count_id}/{self.line_no}"
