"""Customers and ship-to addresses (sales orders come with order-to-fulfillment)."""

from __future__ import annotations

from django.db import models

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
