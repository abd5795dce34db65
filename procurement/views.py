"""Browser screens of suppliers."""

from __future__ import annotations

from erp.screens import Column, ScreenDetailView, ScreenListView
from procurement.models import Supplier


class SupplierListView(ScreenListView[Supplier]):
    csv_kind = "suppliers"
    model = Supplier
    permission_required = "procurement.view_supplier"
    template_name = "procurement/supplier_list.html"
    rows_template_name = "procurement/_supplier_rows.html"
    search_fields = ("code", "name", "email", "currency")
    search_placeholder = "Code, name, email or currency"
    columns = (
        Column("Code", "code", sort="code"),
        Column("Name", "name", sort="name"),
        Column("Currency", "currency", sort="currency", css="col-opt"),
        Column("Lead time (days)", "lead_time_days", sort="lead_time_days", css="num", key="lead_time"),
        Column("Payment terms (days)", "payment_terms_days", sort="payment_terms_days", css="num col-opt",
               key="payment_terms"),
        Column("Email", "email", sort="email", css="col-opt"),
        Column("Status", lambda supplier: "active" if supplier.active else "inactive", sort="active", css="col-opt"),
    )


class SupplierDetailView(ScreenDetailView[Supplier]):
    model = Supplier
    permission_required = "procurement.view_supplier"
    template_name = "procurement/supplier_detail.html"
