"""The network: legal entities, regions, warehouses, their location trees, and carriers."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from erp.models import TimeStampedModel
from erp.scoping import ScopedBy
from erp.validators import code_validator, country_validator, currency_validator, validate_timezone


class LegalEntity(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, validators=[currency_validator])

    scoped_by = ScopedBy("legal_entity", "pk")

    class Meta(TimeStampedModel.Meta):
        verbose_name_plural = "legal entities"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="legalentity_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Region(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)

    scoped_by = ScopedBy("region", "pk")

    class Meta(TimeStampedModel.Meta):
        ordering = ["code"]
        permissions = [
            ("access_region", "Work within this region (object permission)"),
            ("access_all_regions", "Work across the whole enterprise"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Warehouse(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="warehouses")
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="warehouses")
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    address_line1 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[country_validator])
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy("warehouse", "pk")

    class Meta(TimeStampedModel.Meta):
        ordering = ["code"]
        permissions = [("access_warehouse", "Work within this warehouse (object permission)")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class LocationKind(models.TextChoices):
    RECEIVING = "receiving", "Receiving"
    STORAGE = "storage", "Storage"
    PICK = "pick", "Pick face"
    SHIPPING = "shipping", "Shipping"
    QUARANTINE = "quarantine", "Quarantine"
    TRANSIT = "transit", "Transit"


class Location(TimeStampedModel):
    """A node of a warehouse's location tree. ``path`` is the codes from the root, for sorting picks."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="locations")
    code = models.CharField(max_length=32, validators=[code_validator])
    name = models.CharField(max_length=200, blank=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    kind = models.CharField(max_length=16, choices=LocationKind.choices)
    path = models.CharField(max_length=500, editable=False)
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy("warehouse", "warehouse")

    class Meta(TimeStampedModel.Meta):
        ordering = ["warehouse_id", "path"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "code"], name="location_code_unique_per_warehouse"),
            models.CheckConstraint(condition=Q(kind__in=LocationKind.values), name="location_kind_valid"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="location_not_own_parent"),
        ]
        indexes = [models.Index(fields=["warehouse", "path"])]

    def __str__(self) -> str:
        return f"{self.warehouse.code}/{self.code}" if self.warehouse_id else self.code


class Carrier(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CarrierLane(TimeStampedModel):
    """Transit days of a carrier from one region to another (a region to itself is local delivery), and what it
    charges: ``freight_per_unit`` per base unit and ``freight_per_kg`` per kilogram, both optional, in
    ``freight_currency`` (required when either is given). Transfer recommendations weigh it against the service
    at stake."""

    carrier = models.ForeignKey(Carrier, on_delete=models.CASCADE, related_name="lanes")
    origin_region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    destination_region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    transit_days = models.PositiveSmallIntegerField()
    freight_per_unit = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    freight_per_kg = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    freight_currency = models.CharField(max_length=3, blank=True, default="")

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "origin_region", "destination_region"], name="carrierlane_unique"
            ),
            models.CheckConstraint(condition=Q(transit_days__lte=60), name="carrierlane_transit_days_range"),
            models.CheckConstraint(
                condition=(Q(freight_per_unit__isnull=True) | Q(freight_per_unit__gte=0))
                & (Q(freight_per_kg__isnull=True) | Q(freight_per_kg__gte=0)),
                name="carrierlane_freight_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(freight_per_unit__isnull=True, freight_per_kg__isnull=True)
                | Q(freight_currency__regex=r"^[A-Z]{3}$"),
                name="carrierlane_freight_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier.code} {self.origin_region.code}->{self.destination_region.code}"
