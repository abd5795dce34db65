"""The "customers" CSV layout: code,name,region,home_warehouse,allow_partial_shipment,email,active,ship_tos.

``ship_tos`` holds the customer's ship-to addresses in one cell, so a customer stays one row:
each address is ``CODE|name|address|city|postal|country|region|default`` and addresses are joined
by ";". ``default`` (true/false; at most one true per customer) marks the address orders go to when
they name none; export always writes it, and import also takes an address without it (the flag then
stays what the address had; a new address is not the default). A "|", ";" or "\\" inside a value is
written with a backslash before it (``Dock 1\\; rear``), which export does on its own. The list
replaces the customer's ship-tos, matched by code: an address left out is removed. ``region`` of a
ship-to, like the customer's region and home warehouse, must be inside the importing user's scope.
Registered by ``OrdersConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

from erp.csv_exchange import (
    CsvSchema,
    ParsedRow,
    RowParser,
    escape,
    format_bool,
    parse_bool,
    register,
    split_escaped,
    unescape,
)
from erp.scoping import scope_queryset
from orders import rules, services
from orders.models import Customer, ShipTo
from warehouses.models import Region, Warehouse

SHIP_TO_PARTS = ("code", "name", "address_line1", "city", "postal_code", "country", "region")
SHIP_TO_LAYOUT = "CODE|name|address|city|postal|country|region|default"
MAX_SHIP_TOS_PER_CUSTOMER = 200


@register
class CustomerSchema(CsvSchema):
    kind = "customers"
    title = "Customers"
    model = Customer
    columns = ("code", "name", "region", "home_warehouse", "allow_partial_shipment", "email", "active", "ship_tos")
    natural_key = ("code",)
    extra_import_permissions = ("orders.add_shipto", "orders.change_shipto")

    def base_queryset(self) -> QuerySet[Customer]:
        ship_tos = scope_queryset(ShipTo.objects.select_related("region").order_by("code"), self.user)
        return Customer.objects.select_related("region", "home_warehouse") \
            .prefetch_related(Prefetch("ship_tos", queryset=ship_tos)).order_by("code")

    def load_existing(self, keys: Sequence[tuple[str, ...]]) -> Iterable[tuple[tuple[str, ...], Any]]:
        customers = scope_queryset(self.base_queryset().filter(code__in=[key[0] for key in keys]), self.user)
        return (((customer.code,), customer) for customer in customers)

    def _regions(self) -> dict[str, Region]:
        return self.refs("regions", Region.objects.all())

    def parse_row(self, row: dict[str, str]) -> ParsedRow:
        p = RowParser(row)
        p.model_value("code", Customer)
        values = {
            "name": p.model_value("name", Customer),
            "region": p.reference("region", self._regions(), "region"),
            "home_warehouse": p.reference("home_warehouse", self.refs("warehouses", Warehouse.objects.all()),
                                          "warehouse"),
            "allow_partial_shipment": p.boolean("allow_partial_shipment"),
            "email": p.model_value("email", Customer),
            "active": p.boolean("active"),
            "ship_tos": self._parse_ship_tos(p),
        }
        p.finish()
        return ParsedRow(key=self.key_of(row), values=values)

    def _parse_ship_tos(self, p: RowParser) -> list[dict[str, Any]]:
        ship_tos: list[dict[str, Any]] = []
        entries = [entry for entry in split_escaped(p.text("ship_tos"), ";") if entry.strip()]
        if len(entries) > MAX_SHIP_TOS_PER_CUSTOMER:
            p.error("ship_tos", f"At most {MAX_SHIP_TOS_PER_CUSTOMER} ship-to addresses per customer.")
            return []
        seen: set[str] = set()
        for number, entry in enumerate(entries, 1):
            parts = [unescape(part).strip() for part in split_escaped(entry, "|")]
            if len(parts) not in (len(SHIP_TO_PARTS), len(SHIP_TO_PARTS) + 1):
                p.error("ship_tos", f"Ship-to {number} has {len(parts)} parts; write {SHIP_TO_LAYOUT}.")
                continue
            data: dict[str, Any] = dict(zip(SHIP_TO_PARTS, parts[:len(SHIP_TO_PARTS)], strict=True))
            label = data["code"] or f"#{number}"
            if len(parts) > len(SHIP_TO_PARTS):
                try:
                    data["default"] = parse_bool(parts[-1])
                except ValueError as exc:
                    p.error("ship_tos", f"Ship-to {label}: default: {exc}")
                    continue
            region = self._regions().get(data["region"])
            if region is None:
                p.error("ship_tos", f"Ship-to {label}: unknown region '{data['region']}'.")
                continue
            data["region"] = region
            if data["code"] in seen:
                p.error("ship_tos", f"Ship-to {label} is listed more than once.")
                continue
            seen.add(data["code"])
            try:
                ShipTo(**data).full_clean(exclude=["customer"], validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                for field_name, messages in exc.message_dict.items():
                    for message in messages:
                        p.error("ship_tos", f"Ship-to {label}: {field_name}: {message}")
                continue
            ship_tos.append(data)
        defaults = [data["code"] for data in ship_tos if data.get("default")]
        if len(defaults) > 1:
            p.error("ship_tos", f"Only one ship-to address can be the default; {', '.join(defaults)} all say so.")
        return ship_tos

    @staticmethod
    def _ship_to_key(data: dict[str, Any]) -> tuple[Any, ...]:
        return (*(data[part] for part in SHIP_TO_PARTS[1:-1]), data["region"].pk)

    def comparable(self, parsed: ParsedRow) -> dict[str, Any]:
        ship_tos = {data["code"]: self._ship_to_key(data) for data in parsed.values["ship_tos"]}
        existing = self.existing(parsed.key)
        current = next((row.code for row in existing.ship_tos.all() if row.default), None) if existing else None
        return {**parsed.values, "ship_tos": ship_tos,
                "default_ship_to": rules.default_ship_to_after(parsed.values["ship_tos"], current)}

    def current(self, obj: Customer) -> dict[str, Any]:
        ship_tos = {row.code: self._ship_to_key({part: getattr(row, part) for part in SHIP_TO_PARTS})
                    for row in obj.ship_tos.all()}
        return {
            "name": obj.name,
            "region": obj.region,
            "home_warehouse": obj.home_warehouse,
            "allow_partial_shipment": obj.allow_partial_shipment,
            "email": obj.email,
            "active": obj.active,
            "ship_tos": ship_tos,
            "default_ship_to": next((row.code for row in obj.ship_tos.all() if row.default), None),
        }

    def create(self, parsed: ParsedRow) -> Customer:
        return services.customer_create(code=parsed.key[0], actor=self.user, **parsed.values)

    def update(self, obj: Customer, parsed: ParsedRow) -> Customer:
        return services.customer_update(customer=obj, actor=self.user, **parsed.values)

    def to_row(self, obj: Customer) -> dict[str, str]:
        ship_tos = ";".join(
            "|".join(escape(value) for value in (row.code, row.name, row.address_line1, row.city, row.postal_code,
                                                 row.country, row.region.code, format_bool(row.default)))
            for row in obj.ship_tos.all()
        )
        return {
            "code": obj.code,
            "name": obj.name,
            "region": obj.region.code,
            "home_warehouse": obj.home_warehouse.code,
            "allow_partial_shipment": format_bool(obj.allow_partial_shipment),
            "email": obj.email,
            "active": format_bool(obj.active),
            "ship_tos": ship_tos,
        }
