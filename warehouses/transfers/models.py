"""Transfers between warehouses: the document, its lines, and the cost each dispatched part carries.

A transfer moves stock from ``from_warehouse`` to ``to_warehouse``. Dispatch posts it out of the source into
``in_transit`` at the receiving warehouse's transit location, at the source's moving-average cost converted to
the receiving books' currency (``TransferLineLot.unit_cost``); receipt posts it from there into the target at
that same carried cost. In-transit stock is kept out of both moving averages, so its value never drifts. The
lifecycle is ``rules.TRANSFER_TRANSITIONS``; ``services`` writes every row here.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from erp.models import DecimalDigits, TimeStampedModel
from erp.scoping import ScopedBy

QUANTITY: DecimalDigits = {"max_digits": 18, "decimal_places": 4}
UNIT_COST: DecimalDigits = {"max_digits": 18, "decimal_places": 6}
AMOUNT: DecimalDigits = {"max_digits": 18, "decimal_places": 2}
RATE: DecimalDigits = {"max_digits": 18, "decimal_places": 8}


class TransferStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    DISPATCHED = "dispatched", "Dispatched"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


class Transfer(TimeStampedModel):
    """A transfer of stock between two warehouses of the network.

    ``value`` is the lines at the source's moving-average cost when it was submitted, in ``currency`` (the
    sending legal entity's): what ``transfers.approval_threshold`` is compared with. ``intercompany`` is derived:
    the two warehouses belong to different legal entities (finance posts the transfer price, #13; until then,
    cost). ``transit_days`` and ``carrier`` are the fastest lane between the two regions; ``expected_arrival``
    is the ship date plus those days in the receiving warehouse's working days.
    """

    number = models.CharField(max_length=20, unique=True)
    from_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    to_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=TransferStatus.choices, default=TransferStatus.DRAFT)
    requested_date = models.DateField()
    expected_arrival = models.DateField()
    intercompany = models.BooleanField(default=False)
    currency = models.CharField(max_length=3)
    value = models.DecimalField(**AMOUNT, null=True, blank=True)
    carrier = models.ForeignKey("warehouses.Carrier", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    transit_days = models.PositiveSmallIntegerField(default=0)
    note = models.CharField(max_length=500, blank=True)
    approval_request = models.ForeignKey("governance.ApprovalRequest", on_delete=models.PROTECT, null=True,
                                         blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatched_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+")
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    recommendation = models.ForeignKey("transfers.TransferRecommendation", on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="transfers")

    scoped_by = ScopedBy("warehouse", "from_warehouse", also=("to_warehouse",))

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TransferStatus.values), name="transfer_status_valid"),
            models.CheckConstraint(condition=~Q(from_warehouse=F("to_warehouse")), name="transfer_two_warehouses"),
            models.CheckConstraint(
                condition=Q(status__in=[TransferStatus.DRAFT, TransferStatus.PENDING_APPROVAL,
                                        TransferStatus.APPROVED, TransferStatus.CANCELLED])
                | Q(dispatched_at__isnull=False),
                name="transfer_dispatched_has_time",
            ),
            models.CheckConstraint(condition=~Q(status=TransferStatus.RECEIVED) | Q(received_at__isnull=False),
                                   name="transfer_received_has_time"),
        ]
        indexes = [models.Index(fields=["from_warehouse", "status"]), models.Index(fields=["to_warehouse", "status"])]

    def __str__(self) -> str:
        return self.number


def in_transit_of_line() -> models.Expression:
    """``TransferLine.in_transit`` in SQL, for annotations: dispatched - (received - over) - written off."""
    return F("dispatched_quantity") - F("received_quantity") + F("over_quantity") - F("written_off_quantity")


class TransferLine(models.Model):
    """One SKU (and, when asked for, one lot) of a transfer, in base units.

    ``dispatched_quantity`` left the source; ``received_quantity`` arrived (in any status, ``damaged_quantity``
    of it damaged, ``over_quantity`` of it beyond what was in transit); ``written_off_quantity`` was written off
    in transit. What is still in transit is ``dispatched - (received - over) - written_off``, never below 0 (a
    check constraint). The warehouses are the transfer's, kept on the line for scope and the audit trail.
    """

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    from_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    to_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    uom_quantity = models.DecimalField(**QUANTITY)
    uom_code = models.CharField(max_length=16)
    dispatched_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    received_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    damaged_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    over_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    written_off_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))

    scoped_by = ScopedBy("warehouse", "from_warehouse", also=("to_warehouse",))

    class Meta:
        ordering = ["transfer_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "line_no"], name="transferline_line_no_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transferline_quantity_positive"),
            models.CheckConstraint(condition=Q(dispatched_quantity__gte=0, dispatched_quantity__lte=F("quantity")),
                                   name="transferline_dispatched_within_quantity"),
            models.CheckConstraint(
                condition=Q(received_quantity__gte=0, damaged_quantity__gte=0, over_quantity__gte=0,
                            written_off_quantity__gte=0, damaged_quantity__lte=F("received_quantity"),
                            over_quantity__lte=F("received_quantity")),
                name="transferline_receipts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(dispatched_quantity__gte=F("received_quantity") - F("over_quantity")
                            + F("written_off_quantity")),
                name="transferline_in_transit_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}/{self.line_no}"

    @property
    def in_transit(self) -> Decimal:
        return self.dispatched_quantity - (self.received_quantity - self.over_quantity) - self.written_off_quantity


class TransferLineLot(models.Model):
    """One dispatched part of a line: a lot (or none) at the cost it carries.

    ``source_unit_cost`` is the moving-average cost it left the source at, in the sending entity's currency;
    ``unit_cost`` is that times ``rate`` (the dated exchange rate to the receiving entity's currency, 1 between
    entities of one currency), the cost its transit and receipt moves carry. ``received_quantity`` and
    ``written_off_quantity`` came out of transit; the rest is still in transit.
    """

    line = models.ForeignKey(TransferLine, on_delete=models.CASCADE, related_name="parts")
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="+")
    from_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    to_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    transit_location = models.ForeignKey("warehouses.Location", on_delete=models.PROTECT, related_name="+")
    source_unit_cost = models.DecimalField(**UNIT_COST)
    rate = models.DecimalField(**RATE, default=Decimal(1))
    unit_cost = models.DecimalField(**UNIT_COST)
    dispatched_quantity = models.DecimalField(**QUANTITY)
    received_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    written_off_quantity = models.DecimalField(**QUANTITY, default=Decimal(0))

    scoped_by = ScopedBy("warehouse", "from_warehouse", also=("to_warehouse",))

    class Meta:
        ordering = ["line_id", "id"]
        verbose_name = "transfer line part"
        constraints = [
            models.UniqueConstraint(fields=["line", "lot", "unit_cost"], nulls_distinct=False,
                                    name="transferlinelot_unique"),
            models.CheckConstraint(condition=Q(dispatched_quantity__gt=0), name="transferlinelot_dispatched_positive"),
            models.CheckConstraint(
                condition=Q(received_quantity__gte=0, written_off_quantity__gte=0,
                            dispatched_quantity__gte=F("received_quantity") + F("written_off_quantity")),
                name="transferlinelot_in_transit_non_negative",
            ),
            models.CheckConstraint(condition=Q(unit_cost__gte=0, source_unit_cost__gte=0, rate__gt=0),
                                   name="transferlinelot_costs_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.line_id}: {self.dispatched_quantity} at {self.unit_cost}"

    @property
    def in_transit(self) -> Decimal:
        return self.dispatched_quantity - self.received_quantity - self.written_off_quantity


class RecommendationReason(models.TextChoices):
    SHORTAGE = "shortage", "Shortage"
    DEMAND_SPIKE = "demand_spike", "Demand spike"
    SURPLUS = "surplus", "Surplus"
    SERVICE_RISK = "service_risk", "Service risk"


class RecommendationStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"
    EXPIRED = "expired", "Expired"


class TransferRecommendation(TimeStampedModel):
    """A recommended transfer of ``quantity`` base units of ``item`` from a warehouse with surplus beyond its own
    cover to one short within its lead time (``recommendations``), ranked by ``score`` and explained in words and
    figures. At most one is open per SKU and pair of warehouses (a partial unique index): a refresh updates it in
    place, or expires it when it is no longer true. A planner accepts it (a transfer through approval, linked by
    ``Transfer.recommendation``) or dismisses it with a reason.

    ``freight_cost`` is the lane's charge for the quantity (per unit and per kg) in ``freight_currency``, null
    when the lane names no freight; ``transit_days`` and ``carrier`` are the fastest lane's.
    """

    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    from_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    to_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)
    reason = models.CharField(max_length=20, choices=RecommendationReason.choices)
    score = models.DecimalField(max_digits=7, decimal_places=2)
    status = models.CharField(max_length=20, choices=RecommendationStatus.choices,
                              default=RecommendationStatus.OPEN)
    carrier = models.ForeignKey("warehouses.Carrier", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    transit_days = models.PositiveSmallIntegerField(default=0)
    expected_arrival = models.DateField()
    freight_cost = models.DecimalField(**AMOUNT, null=True, blank=True)
    freight_currency = models.CharField(max_length=3, blank=True, default="")
    explanation = models.CharField(max_length=500)
    # The figures the explanation is worded from (need, surplus, backordered, cover ...), for the board.
    figures = models.JSONField(default=dict, blank=True)
    refreshed_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    dismiss_reason = models.CharField(max_length=500, blank=True, default="")
    expired_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy("warehouse", "from_warehouse", also=("to_warehouse",))

    class Meta(TimeStampedModel.Meta):
        ordering = ["-score", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RecommendationStatus.values),
                                   name="transferrecommendation_status_valid"),
            models.CheckConstraint(condition=Q(reason__in=RecommendationReason.values),
                                   name="transferrecommendation_reason_valid"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transferrecommendation_quantity_positive"),
            models.CheckConstraint(condition=~Q(from_warehouse=F("to_warehouse")),
                                   name="transferrecommendation_two_warehouses"),
            models.CheckConstraint(condition=Q(freight_cost__isnull=True) | Q(freight_cost__gte=0),
                                   name="transferrecommendation_freight_non_negative"),
            models.CheckConstraint(condition=~Q(status=RecommendationStatus.DISMISSED) | ~Q(dismiss_reason=""),
                                   name="transferrecommendation_dismissed_has_reason"),
            models.UniqueConstraint(fields=["item", "from_warehouse", "to_warehouse"],
                                    condition=Q(status=RecommendationStatus.OPEN),
                                    name="transferrecommendation_one_open_per_pair"),
        ]
        indexes = [models.Index(fields=["to_warehouse", "status"]), models.Index(fields=["from_warehouse", "status"])]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.from_warehouse_id} -> {self.to_warehouse_id} ({self.status})"


class WriteOffStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    POSTED = "posted", "Posted"
    REJECTED = "rejected", "Rejected"


class TransferWriteOff(TimeStampedModel):
    """A request to write off what a transfer lost in transit (a discrepancy not found), through the approval
    engine (``transfer_write_off`` rules); approved, it leaves transit at the cost it carries, reason ``LOST``.

    ``value`` is the quantities at their carried cost (oldest parts first) when requested, in ``currency``, the
    receiving entity's (the currency the transit stock is valued in).
    """

    number = models.CharField(max_length=20, unique=True)
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="write_offs")
    from_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    to_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=WriteOffStatus.choices, default=WriteOffStatus.PENDING_APPROVAL)
    reason = models.CharField(max_length=500)
    value = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    approval_request = models.ForeignKey("governance.ApprovalRequest", on_delete=models.PROTECT, null=True,
                                         blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy("warehouse", "from_warehouse", also=("to_warehouse",))

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        verbose_name = "transfer write-off"
        constraints = [
            models.CheckConstraint(condition=Q(status__in=WriteOffStatus.values), name="transferwriteoff_status_valid"),
            models.CheckConstraint(condition=~Q(reason=""), name="transferwriteoff_has_reason"),
            models.CheckConstraint(condition=Q(value__gte=0), name="transferwriteoff_value_non_negative"),
            models.CheckConstraint(condition=Q(status=WriteOffStatus.PENDING_APPROVAL) | Q(decided_at__isnull=False),
                                   name="transferwriteoff_decided_has_time"),
        ]

    def __str__(self) -> str:
        return self.number


class TransferWriteOffLine(models.Model):
    """What one line of a write-off asks to write off, in base units."""

    write_off = models.ForeignKey(TransferWriteOff, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(TransferLine, on_delete=models.PROTECT, related_name="+")
    from_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    to_warehouse = models.ForeignKey("warehouses.Warehouse", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QUANTITY)

    scoped_by = ScopedBy("warehouse", "from_warehouse", also=("to_warehouse",))

    class Meta:
        ordering = ["write_off_id", "line_id"]
        verbose_name = "transfer write-off line"
        constraints = [
            models.UniqueConstraint(fields=["write_off", "line"], name="transferwriteoffline_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transferwriteoffline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.write_off_id}/{self.line_id}: {self.quantity}"
