"""The "items" CSV layout: sku,name,category,base_uom,lot_tracked,shelf_life_days,weight_kg,uoms.

``uoms`` lists the item's conversions other than the base unit as ``UNIT=FACTOR`` joined by ";"
(``CS=12;PL=720``: a case holds 12 base units). The base unit always converts at 1, so it is not
written; listing it with factor 1 is accepted, with any other factor it is an error. The list
replaces the item's conversions, so a unit left out is removed. Registered by ``InventoryConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Prefetch, QuerySet

from erp.csv_exchange import CsvSchema, ParsedRow, RowParser, format_bool, format_decimal, register
from erp.scoping import scope_queryset
from inventory import services
from inventory.models import Item, ItemUom, UnitOfMeasure


@register
class ItemSchema(CsvSchema):
    kind = "items"
    title = "Items"
    model = Item
    columns = ("sku", "name", "category", "base_uom", "lot_tracked", "shelf_life_days", "weight_kg", "uoms")
    natural_key = ("sku",)

    def base_queryset(self) -> QuerySet[Item]:
        conversions = ItemUom.objects.select_related("uom").order_by("factor", "uom__code")
        return Item.objects.select_related("base_uom").prefetch_related(Prefetch("uoms", queryset=conversions)) \
            .order_by("sku")

    def load_existing(self, keys: Sequence[tuple[str, ...]]) -> Iterable[tuple[tuple[str, ...], Any]]:
        items = scope_queryset(self.base_queryset().filter(sku__in=[key[0] for key in keys]), self.user)
        return (((item.sku,), item) for item in items)

    def parse_row(self, row: dict[str, str]) -> ParsedRow:
        p = RowParser(row)
        p.model_value("sku", Item)
        values = {
            "name": p.model_value("name", Item),
            "category": p.model_value("category", Item),
            "base_uom": p.reference("base_uom", self._units(), "unit of measure"),
            "lot_tracked": p.boolean("lot_tracked"),
            "shelf_life_days": p.model_value("shelf_life_days", Item, blank_is_none=True),
            "weight_kg": p.model_value("weight_kg", Item, blank_is_none=True),
        }
        values["uoms"] = self._parse_uoms(p, values["base_uom"])
        p.finish()
        return ParsedRow(key=self.key_of(row), values=values)

    def _units(self) -> dict[str, UnitOfMeasure]:
        return self.refs("uoms", UnitOfMeasure.objects.all())

    def _parse_uoms(self, p: RowParser, base_uom: UnitOfMeasure | None) -> list[tuple[UnitOfMeasure, Any]]:
        conversions: list[tuple[UnitOfMeasure, Any]] = []
        seen: set[str] = set()
        for part in (piece.strip() for piece in p.text("uoms").split(";")):
            if not part:
                continue
            code, equals, factor_text = (s.strip() for s in part.partition("="))
            if not equals:
                p.error("uoms", f"'{part}' is not UNIT=FACTOR (for example CS=12).")
                continue
            uom = self._units().get(code)
            if uom is None:
                p.error("uoms", f"Unknown unit of measure '{code}'.")
                continue
            if code in seen:
                p.error("uoms", f"{code} is listed more than once.")
                continue
            seen.add(code)
            factor = p.model_value("uoms", ItemUom, "factor", raw=factor_text)
            if factor is None:
                continue
            if factor <= 0:
                p.error("uoms", f"The factor of {code} must be greater than zero.")
            elif base_uom is not None and uom.pk == base_uom.pk:
                if factor != 1:
                    p.error("uoms", f"{code} is the base unit; its factor must be 1.")
            else:
                conversions.append((uom, factor))
        return conversions

    def comparable(self, parsed: ParsedRow) -> dict[str, Any]:
        return {**parsed.values, "uoms": {uom.code: factor for uom, factor in parsed.values["uoms"]}}

    def current(self, obj: Item) -> dict[str, Any]:
        return {
            "name": obj.name,
            "category": obj.category,
            "base_uom": obj.base_uom,
            "lot_tracked": obj.lot_tracked,
            "shelf_life_days": obj.shelf_life_days,
            "weight_kg": obj.weight_kg,
            "uoms": {row.uom.code: row.factor for row in obj.uoms.all() if row.uom_id != obj.base_uom_id},
        }

    def create(self, parsed: ParsedRow) -> Item:
        return services.item_create(sku=parsed.key[0], actor=self.user, **parsed.values)

    def update(self, obj: Item, parsed: ParsedRow) -> Item:
        return services.item_update(item=obj, actor=self.user, **parsed.values)

    def to_row(self, obj: Item) -> dict[str, str]:
        return {
            "sku": obj.sku,
            "name": obj.name,
            "category": obj.category,
            "base_uom": obj.base_uom.code,
            "lot_tracked": format_bool(obj.lot_tracked),
            "shelf_life_days": "" if obj.shelf_life_days is None else str(obj.shelf_life_days),
            "weight_kg": format_decimal(obj.weight_kg),
            "uoms": ";".join(f"{row.uom.code}={format_decimal(row.factor)}" for row in obj.uoms.all()
                             if row.uom_id != obj.base_uom_id),
        }
