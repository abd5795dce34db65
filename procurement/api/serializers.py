from __future__ import annotations

from rest_framework import serializers

from erp.api.serializers import StrictInputSerializer
from erp.validators import code_validator, currency_validator
from procurement.models import Supplier

MAX_TERMS_DAYS = 365  # the database's supplier_lead_time_range and supplier_payment_terms_range


class SupplierOutput(serializers.ModelSerializer):
    """A supplier and its terms."""

    class Meta:
        model = Supplier
        fields = ["code", "name", "currency", "lead_time_days", "payment_terms_days", "email", "active"]


class _SupplierFields(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(max_length=3, validators=[currency_validator])
    lead_time_days = serializers.IntegerField(min_value=0, max_value=MAX_TERMS_DAYS, required=False)
    payment_terms_days = serializers.IntegerField(min_value=0, max_value=MAX_TERMS_DAYS, required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class SupplierCreateInput(_SupplierFields):
    """A new supplier."""

    code = serializers.CharField(max_length=32, validators=[code_validator])

    def validate_code(self, value: str) -> str:
        if Supplier.objects.filter(code=value).exists():
            raise serializers.ValidationError("A supplier with this code already exists.")
        return value


class SupplierUpdateInput(_SupplierFields):
    """Changes to a supplier; the code never changes."""
