"""Browser screens of inventory: the item master, stock inquiry, the move history and handheld status changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.generic import FormView, TemplateView

from erp.exceptions import DomainError
from erp.scoping import scope_queryset
from erp.screens import SEARCH_MAX_LENGTH, ScreenAccessMixin, ScreenDetailView, ScreenListView, is_htmx_partial
from inventory.models import Item, ItemUom, ReasonCode, ReasonCodeUse, StockBalance, StockMove, StockStatus
from inventory.selectors import network_availability
from inventory.services import stock_status_change
from warehouses.models import Location, Warehouse


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


# --- stock screens: inquiry, drill-down, move history, handheld status change ----------------------------


def plain_quantity(quantity: Decimal) -> str:
    """A quantity without its storage padding: 120.0000 -> "120", 2.5000 -> "2.5"."""
    return format(quantity.normalize(), "f") if quantity else "0"


class StockInquiryView(ScreenAccessMixin, TemplateView):
    """Scan or type a SKU: its on hand, allocated, available and blocked in every warehouse of the scope.

    An htmx request (the form submits with ``hx-get``) answers only the result panel; without
    JavaScript the same URL is the whole page. An unknown or malformed SKU is a message, not an error.
    """

    permission_required = "inventory.view_itemwarehousesummary"
    template_name = "inventory/stock_inquiry.html"

    def get_template_names(self) -> list[str]:
        if is_htmx_partial(self.request):
            return ["inventory/_stock_result.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        sku = self.request.GET.get("sku", "").strip()[:SEARCH_MAX_LENGTH]
        context.update(sku=sku, rows=[], error="", searched=bool(sku))
        if not sku:
            return context
        try:
            rows = network_availability(user=self.request.user, skus=[sku])
        except DomainError as error:
            context["error"] = error.message
            return context
        context["item"] = scope_queryset(Item.objects.select_related("base_uom"), self.request.user).get(sku=sku)
        fields = ("on_hand", "allocated", "available", "blocked")
        context["rows"] = [{"warehouse": row["warehouse"], **{f: plain_quantity(row[f]) for f in fields}}
                           for row in rows]
        context["totals"] = {f: plain_quantity(sum((row[f] for row in rows), Decimal(0))) for f in fields}
        return context

    def render_to_response(self, context: dict[str, Any], **response_kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **response_kwargs)
        patch_vary_headers(response, ["HX-Request"])
        return response


class StockLocationsView(ScreenAccessMixin, TemplateView):
    """One SKU at one warehouse of the scope: its balances by location, lot and status (404 outside the scope)."""

    permission_required = "inventory.view_stockbalance"
    template_name = "inventory/stock_locations.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        item = get_object_or_404(scope_queryset(Item.objects.select_related("base_uom"), user), sku=kwargs["sku"])
        warehouse = get_object_or_404(scope_queryset(Warehouse.objects.all(), user), code=kwargs["warehouse"])
        balances = (scope_queryset(StockBalance.objects.filter(item=item, warehouse=warehouse), user)
                    .exclude(on_hand=0).select_related("location", "lot", "status")
                    .order_by("location__code", "lot__lot_number", "status__sort_order"))
        context.update(item=item, warehouse=warehouse,
                       balances=[{"balance": b, "on_hand": plain_quantity(b.on_hand)} for b in balances])
        return context


class StockMoveListView(ScreenListView):
    """The stock ledger of the scope, newest first, narrowed by ``?sku=`` and ``?warehouse=`` and searchable."""

    model = StockMove
    permission_required = "inventory.view_stockmove"
    template_name = "inventory/stock_move_list.html"
    rows_template_name = "inventory/_stock_move_rows.html"
    search_fields = ("item__sku", "location__code", "reference", "reference_type")
    search_placeholder = "SKU, location or reference"
    title = "Stock moves"

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def base_queryset(self) -> QuerySet[StockMove]:
        queryset = StockMove.objects.select_related("item", "warehouse", "location", "lot", "status", "reason",
                                                    "actor")
        if sku := self.filter_value("sku"):
            queryset = queryset.filter(item__sku=sku)
        if warehouse := self.filter_value("warehouse"):
            queryset = queryset.filter(warehouse__code=warehouse)
        return queryset.order_by("-created_at", "-id")

    def get_template_names(self) -> list[str]:
        if is_htmx_partial(self.request):
            return ["inventory/_stock_move_partial.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            sku=self.filter_value("sku"), warehouse=self.filter_value("warehouse"),
            warehouses=list(scope_queryset(Warehouse.objects.order_by("code"), self.request.user)
                            .values_list("code", flat=True)),
            rows=[{"move": move, "quantity": plain_quantity(move.quantity)} for move in context["object_list"]],
        )
        return context


class StockStatusChangeForm(forms.Form):
    """The handheld form; choices come from the user's scope and the standard statuses and reasons."""

    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), to_field_name="code", empty_label=None)
    location = forms.CharField(max_length=32, required=False,
                               help_text="Leave empty when the stock sits in one location only.")
    sku = forms.CharField(label="SKU", max_length=40)
    lot = forms.CharField(max_length=64, required=False)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4, min_value=Decimal("0.0001"))
    from_status = forms.ModelChoiceField(queryset=StockStatus.objects.all(), to_field_name="code", empty_label=None,
                                         initial="available")
    to_status = forms.ModelChoiceField(queryset=StockStatus.objects.all(), to_field_name="code", empty_label=None,
                                       initial="quality_hold")
    reason = forms.ModelChoiceField(queryset=ReasonCode.objects.filter(applies_to=ReasonCodeUse.STATUS_CHANGE),
                                    to_field_name="code", empty_label=None, initial="QC-HOLD")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["warehouse"].queryset = scope_queryset(Warehouse.objects.order_by("code"), user)
        self.fields["from_status"].label_from_instance = lambda status: status.name
        self.fields["to_status"].label_from_instance = lambda status: status.name
        self.fields["reason"].label_from_instance = lambda reason: f"{reason.code} · {reason.description}"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        warehouse = data.get("warehouse")
        if data.get("sku"):
            item = scope_queryset(Item.objects.select_related("base_uom"), self.user).filter(sku=data["sku"]).first()
            if item is None:
                self.add_error("sku", f"Unknown SKU: {data['sku']}.")
            data["item"] = item
        data["location_obj"] = None
        if warehouse is not None and data.get("location"):
            location = scope_queryset(Location.objects.filter(warehouse=warehouse, code=data["location"]),
                                      self.user).first()
            if location is None:
                self.add_error("location", f"No location {data['location']} in {warehouse.code}.")
            data["location_obj"] = location
        return data


class StockStatusChangeView(ScreenAccessMixin, FormView):
    """Move stock between statuses from a handheld: scan the location and the SKU, type the quantity, Enter.

    Calls ``inventory.services.stock_status_change``; its domain errors come back on the form, and
    success redirects (post/redirect/get) with a message giving the new availability at the warehouse.
    """

    permission_required = "inventory.change_stock_status"
    template_name = "inventory/stock_status_change.html"
    form_class = StockStatusChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        if warehouse := self.request.GET.get("warehouse"):
            initial["warehouse"] = warehouse
        return initial

    def form_valid(self, form: StockStatusChangeForm) -> HttpResponse:
        data = form.cleaned_data
        item, warehouse = data["item"], data["warehouse"]
        try:
            moves = stock_status_change(
                warehouse=warehouse, item=item, quantity=data["quantity"], uom=item.base_uom,
                from_status=data["from_status"], to_status=data["to_status"], reason=data["reason"],
                actor=self.request.user, location=data["location_obj"], lot_number=data["lot"] or None,
            )
        except DomainError as error:
            for field, problems in error.detail.items():
                if field in form.fields and isinstance(problems, list):
                    form.add_error(field, problems)
            form.add_error(None, error.message)
            return self.form_invalid(form)
        row = network_availability(user=self.request.user, skus=[item.sku], warehouse=warehouse.code)[0]
        messages.success(self.request, (
            f"Moved {plain_quantity(data['quantity'])} {item.base_uom.code} of {item.sku} at {warehouse.code} "
            f"{moves[0].location.code} from {data['from_status'].name} to {data['to_status'].name}. "
            f"Now available {plain_quantity(row['available'])}, blocked {plain_quantity(row['blocked'])}."
        ))
        return redirect(f"{reverse('inventory:stock-status-change')}?warehouse={warehouse.code}")
