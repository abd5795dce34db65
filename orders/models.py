"""Customers and ship-to addresses; sales orders, their lines and the stock allocated to them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from erp.models import TimeStampedModel
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

    scoped_by = ScopedBy("region", "customer__region")

    class Meta(TimeStampedModel.Meta):
        verbose_name = "ship-to address"
        constraints = [models.UniqueConstraint(fields=["customer", "code"], name="shipto_code_unique_per_customer")]

    def __str__(self) -> str:
        return f"{self.customer.code}/{self.code}"


# --- sales orders ---------------------------------------------------------------------------------------

QUANTITY = {"max_digits": 18, "decimal_places": 4}


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
