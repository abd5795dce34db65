"""Browser screens of the item master: items with their unit conversions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet

from erp.scoping import scope_queryset
from erp.screens import ScreenDetailView, ScreenListView
from inventory.models import Item, ItemUom


def plain_factor(factor: Decimal) -> str:
    """A conversion factor without its storage padding: 24.000000 -> "24", 0.500000 -> "0.5"."""
    return format(factor.normalize(), "f")


def _conversions_of(item: Item) -> list[dict[str, Any]]:
    return [
        {"uom": conversion.uom, "factor": plain_factor(conversion.factor)}
        for conversion in sorted(item.uoms.all(), key=lambda c: (c.factor, c.uom.code))
    ]


class ItemQuerysetMixin:
    request: Any

    def base_queryset(self) -> QuerySet[Item]:
        conversions = scope_queryset(ItemUom.objects.select_related("uom"), self.request.user)
        return Item.objects.select_related("base_uom").prefetch_related(Prefetch("uoms", queryset=conversions))


class ItemListView(ItemQuerysetMixin, ScreenListView):
    csv_kind = "items"
    model = Item
    permission_required = "inventory.view_item"
    template_name = "inventory/item_list.html"
    rows_template_name = "inventory/_item_rows.html"
    search_fields = ("sku", "name", "category")
    search_placeholder = "SKU, name or category"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = [{"item": item, "conversions": _conversions_of(item)} for item in context["object_list"]]
        return context


class ItemDetailView(ItemQuerysetMixin, ScreenDetailView):
    model = Item
    permission_required = "inventory.view_item"
    template_name = "inventory/item_detail.html"
    slug_url_kwarg = "sku"
    slug_field = "sku"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["conversions"] = _conversions_of(self.object)
        return context
