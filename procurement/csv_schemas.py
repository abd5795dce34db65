"""The "suppliers" CSV layout: code,name,currency,lead_time_days,payment_terms_days,email,active.

Registered by ``ProcurementConfig.ready``; see ``erp.csv_exchange`` for the import contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet

from erp.csv_exchange import CsvSchema, ParsedRow, RowParser, format_bool, register
from erp.scoping import scope_queryset
from procurement import services
from procurement.models import Supplier

FIELDS = ("name", "currency", "lead_time_days", "payment_terms_days", "email", "active")


@register
class SupplierSchema(CsvSchema):
    kind = "suppliers"
    title = "Suppliers"
    model = Supplier
    columns = ("code", *FIELDS)
    natural_key = ("code",)

    def base_queryset(self) -> QuerySet[Supplier]:
        return Supplier.objects.order_by("code")

    def load_existing(self, keys: Sequence[tuple[str, ...]]) -> Iterable[tuple[tuple[str, ...], Any]]:
        suppliers = scope_queryset(self.base_queryset().filter(code__in=[key[0] for key in keys]), self.user)
        return (((supplier.code,), supplier) for supplier in suppliers)

    def parse_row(self, row: dict[str, str]) -> ParsedRow:
        p = RowParser(row)
        p.model_value("code", Supplier)
        values = {
            "name": p.model_value("name", Supplier),
            "currency": p.model_value("currency", Supplier),
            "lead_time_days": p.model_value("lead_time_days", Supplier),
            "payment_terms_days": p.model_value("payment_terms_days", Supplier),
            "email": p.model_value("email", Supplier),
            "active": p.boolean("active"),
        }
        p.finish()
        return ParsedRow(key=self.key_of(row), values=values)

    def current(self, obj: Supplier) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in FIELDS}

    def create(self, parsed: ParsedRow) -> Supplier:
        return services.supplier_create(code=parsed.key[0], actor=self.user, **parsed.values)

    def update(self, obj: Supplier, parsed: ParsedRow) -> Supplier:
        return services.supplier_update(supplier=obj, actor=self.user, **parsed.values)

    def to_row(self, obj: Supplier) -> dict[str, str]:
        return {
            "code": obj.code,
            "name": obj.name,
            "currency": obj.currency,
            "lead_time_days": str(obj.lead_time_days),
            "payment_terms_days": str(obj.payment_terms_days),
            "email": obj.email,
            "active": format_bool(obj.active),
        }
