"""Suppliers and their terms (requisitions, purchase orders and receipts come later)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from erp.models import TimeStampedModel
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
