"""Admin for customers (scoped by region) with their ship-to addresses shown read-only.

Saves go through ``orders.services``; a home warehouse outside the customer's region is refused
there and shown on the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from erp.admin_scoping import MasterDataAdmin, ReadOnlyInlineMixin
from orders import services
from orders.models import Customer, ShipTo


class ShipToInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ShipTo
    fields = ["code", "name", "address_line1", "city", "postal_code", "country", "region"]
    verbose_name_plural = "ship-to addresses (read-only here: change them through the API or a CSV import)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("region")


@admin.register(Customer)
class CustomerAdmin(MasterDataAdmin):
    list_display = ["code", "name", "region", "home_warehouse", "allow_partial_shipment", "email", "active"]
    search_fields = ["code", "name", "email"]
    list_filter = [("region", admin.RelatedOnlyFieldListFilter),
                   ("home_warehouse", admin.RelatedOnlyFieldListFilter), "allow_partial_shipment", "active"]
    list_select_related = ["region", "home_warehouse"]
    ordering = ["code"]
    fields = ["code", "name", "region", "home_warehouse", "allow_partial_shipment", "email", "active"]
    inlines = [ShipToInline]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = self.fields_for(form, services.CUSTOMER_FIELDS)
        if change:
            return services.customer_update(customer=obj, actor=request.user, **data)
        return services.customer_create(code=obj.code, actor=request.user, **data)
