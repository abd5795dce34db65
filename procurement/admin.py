"""Admin for suppliers (enterprise-wide master data); saves go through ``procurement.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from erp.admin_scoping import MasterDataAdmin
from procurement import services
from procurement.models import Supplier


@admin.register(Supplier)
class SupplierAdmin(MasterDataAdmin):
    list_display = ["code", "name", "currency", "lead_time_days", "payment_terms_days", "email", "active"]
    search_fields = ["code", "name", "email"]
    list_filter = ["currency", "active"]
    list_select_related = True
    ordering = ["code"]
    fields = ["code", "name", "currency", "lead_time_days", "payment_terms_days", "email", "active"]

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = self.fields_for(form, services.SUPPLIER_FIELDS)
        if change:
            return services.supplier_update(supplier=obj, actor=request.user, **data)
        return services.supplier_create(code=obj.code, actor=request.user, **data)
