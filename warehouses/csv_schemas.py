"""The "locations" CSV layout: warehouse,code,name,kind,parent,active.

A location is keyed by its warehouse and code; ``parent`` is the code of another location of
the same warehouse (empty at the root), and it may be a location created by an earlier row of the
same file, so list parents before their children (export does). The location services cannot move
a location, so a row that names a different parent for an existing location is an error.
Registered by ``WarehousesConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet

from erp.csv_exchange import CsvSchema, ParsedRow, RowParser, format_bool, register
from erp.scoping import scope_queryset
from warehouses import services
from warehouses.models import Location, LocationKind, Warehouse


@register
class LocationSchema(CsvSchema):
    kind = "locations"
    title = "Locations"
    model = Location
    columns = ("warehouse", "code", "name", "kind", "parent", "active")
    natural_key = ("warehouse", "code")

    def base_queryset(self) -> QuerySet[Location]:
        return Location.objects.select_related("warehouse", "parent").order_by("warehouse__code", "path")

    def load_existing(self, keys: Sequence[tuple[str, ...]]) -> Iterable[tuple[tuple[str, ...], Any]]:
        """Every location of the warehouses the file names, so parents resolve from the same map."""
        warehouse_codes = {key[0] for key in keys}
        locations = scope_queryset(self.base_queryset().filter(warehouse__code__in=warehouse_codes), self.user)
        return (((location.warehouse.code, location.code), location) for location in locations)

    def parse_row(self, row: dict[str, str]) -> ParsedRow:
        p = RowParser(row)
        key = self.key_of(row)
        warehouse = p.reference("warehouse", self.refs("warehouses", Warehouse.objects.all()), "warehouse")
        code = p.model_value("code", Location)
        kind = p.required("kind")
        if kind and kind not in LocationKind.values:
            p.error("kind", f"Unknown kind '{kind}'; use one of: {', '.join(LocationKind.values)}.")
        values = {
            "warehouse": warehouse,
            "name": p.model_value("name", Location),
            "kind": kind,
            "parent": self._parent(p, warehouse, code),
            "active": p.boolean("active"),
        }
        existing = self.existing(key)
        if existing is not None and "parent" not in p.errors and existing.parent != values["parent"]:
            now = existing.parent.code if existing.parent else "none, it is a root"
            p.error("parent", f"An existing location cannot be moved by import (its parent is {now}).")
        p.finish()
        return ParsedRow(key=key, values=values)

    def _parent(self, p: RowParser, warehouse: Warehouse | None, code: str | None) -> Location | None:
        parent_code = p.text("parent")
        if not parent_code or warehouse is None:
            return None
        if parent_code == code:
            p.error("parent", "A location cannot be its own parent.")
            return None
        parent = self.existing((warehouse.code, parent_code))
        if parent is None:
            p.error("parent", f"Unknown location '{parent_code}' in {warehouse.code} (list parents before children).")
        return parent

    def current(self, obj: Location) -> dict[str, Any]:
        return {"warehouse": obj.warehouse, "name": obj.name, "kind": obj.kind, "parent": obj.parent,
                "active": obj.active}

    def create(self, parsed: ParsedRow) -> Location:
        return services.location_create(code=parsed.key[1], actor=self.user, **parsed.values)

    def update(self, obj: Location, parsed: ParsedRow) -> Location:
        values = parsed.values
        return services.location_update(location=obj, actor=self.user, name=values["name"], kind=values["kind"],
                                        active=values["active"])

    def to_row(self, obj: Location) -> dict[str, str]:
        return {
            "warehouse": obj.warehouse.code,
            "code": obj.code,
            "name": obj.name,
            "kind": obj.kind,
            "parent": obj.parent.code if obj.parent else "",
            "active": format_bool(obj.active),
        }
