"""Items and units of measure (the ledger, lots and balances come with the inventory core)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from erp.models import TimeStampedModel
from erp.scoping import ScopedBy
from erp.validators import code_validator, sku_validator


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
