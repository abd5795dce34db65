"""Browser screens of suppliers."""

from __future__ import annotations

from erp.screens import ScreenDetailView, ScreenListView
from procurement.models import Supplier


class SupplierListView(ScreenListView[Supplier]):
    csv_kind = "suppliers"
    model = Supplier
    permission_required = "procurement.view_supplier"
    template_name = "procurement/supplier_list.html"
    rows_template_name = "procurement/_supplier_rows.html"
    search_fields = ("code", "name", "email", "currency")
    search_placeholder = "Code, name, email or currency"


class SupplierDetailView(ScreenDetailView[Supplier]):
    model = Supplier
    permission_required = "procurement.view_supplier"
    template_name = "procurement/supplier_detail.html"
