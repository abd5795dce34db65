"""The lines of an entry screen: what a sales order, a transfer, a purchase order and a requisition share.

A line is typed as a SKU, a quantity and a unit (and whatever its document adds: a lot, a price, a date); a row
with neither SKU nor quantity is skipped. The formset finds every typed SKU among the items of the user's scope in
one query, refuses an unknown or inactive one, and (``check_units``) a unit that is not one of the item's, a blank
unit becoming the item's base unit; each document then turns a checked line into its service's spec
(``line_spec``), reading what it needs for all lines at once first (``prepare``). Errors stand beside their field;
nothing is written until every line is right.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django import forms
from django.forms import BaseFormSet

from erp.scoping import scope_queryset
from inventory.models import Item, ItemUom
from inventory.selectors import items_by_sku


class ItemLineForm(forms.Form):
    """SKU, quantity above 0 and unit (upper-cased; blank: the document's default). Subclasses add fields and check
    them in ``clean_more``."""

    sku = forms.CharField(label="SKU", max_length=40, required=False)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4, required=False)
    uom = forms.CharField(label="Unit", max_length=16, required=False)

    def is_blank(self) -> bool:
        return not any((self.data.get(self.add_prefix(name)) or "").strip() for name in ("sku", "quantity"))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.is_blank():
            return data
        data["sku"] = (data.get("sku") or "").strip()
        data["uom"] = (data.get("uom") or "").strip().upper()
        if not data["sku"]:
            self.add_error("sku", "Type or scan a SKU.")
        if "quantity" not in self.errors:
            if data.get("quantity") is None:
                self.add_error("quantity", "Type a quantity.")
            elif data["quantity"] <= 0:
                self.add_error("quantity", "Must be more than 0.")
        self.clean_more(data)
        return data

    def clean_more(self, data: dict[str, Any]) -> None:
        """A subclass's own fields, checked after the shared ones."""


F = TypeVar("F", bound=ItemLineForm)


class ItemLineFormSet(BaseFormSet[F], Generic[F]):
    """At least one typed line; every SKU an active item of the user's scope and, with ``check_units``, every unit
    one of the item's (two queries); then ``line_spec`` per line. ``document`` names what needs the lines ("An
    order"). After ``is_valid()``, ``specs`` holds one spec per typed line, in order."""

    document = "A document"
    check_units = True

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.specs: list[Any] = []

    def prepare(self, typed: list[F], items: dict[str, Item]) -> None:
        """Read, for every typed line at once, what ``line_spec`` needs (lots, suppliers)."""

    def line_spec(self, form: F, item: Item, data: dict[str, Any]) -> Any | None:
        """The service's spec of one checked line, or None after adding an error to ``form``."""
        raise NotImplementedError

    def clean(self) -> None:
        if not self.management_form.is_valid() or any(self.errors):
            return
        typed = [form for form in self.forms if not form.is_blank()]
        if not typed:
            raise forms.ValidationError(f"{self.document} needs at least one line.")
        items = items_by_sku(scope_queryset(Item.objects.select_related("base_uom"), self.user),
                             {form.cleaned_data["sku"] for form in typed})
        units: dict[int, set[str]] = {}
        if self.check_units:
            for item_id, code in ItemUom.objects.filter(item__in=items.values()).values_list("item_id", "uom__code"):
                units.setdefault(item_id, set()).add(code)
        self.prepare(typed, items)
        problems = False
        for form in typed:
            data = form.cleaned_data
            item = items.get(data["sku"])
            spec = None
            if item is None:
                form.add_error("sku", f"Unknown SKU: {data['sku']}.")
            elif not item.active:
                form.add_error("sku", f"{item.sku} is not active.")
            elif self.check_units and (data["uom"] or item.base_uom.code) not in units.get(item.pk, set()):
                form.add_error("uom", f"{item.sku} has no unit {data['uom']} "
                                      f"(it has {', '.join(sorted(units.get(item.pk, set())))}).")
            else:
                if self.check_units:
                    data["uom"] = data["uom"] or item.base_uom.code
                spec = self.line_spec(form, item, data)
            if spec is None:
                problems = True
                continue
            self.specs.append(spec)
        if problems:
            self.specs = []
            raise forms.ValidationError("Some lines need correcting.")
