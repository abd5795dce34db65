"""Browser screens of inventory: the item master, stock inquiry, the move history, handheld status changes,
cycle counts (blind counting on a handheld, the approver's view of the variances) and stock adjustments."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Sum, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views import View
from django.views.generic import FormView, TemplateView
from django.views.generic.edit import FormMixin

from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.scoping import scope_queryset
from erp.screens import (
    SEARCH_MAX_LENGTH,
    Column,
    ScreenAccessMixin,
    ScreenDetailView,
    ScreenListView,
    is_htmx_partial,
    label_choices,
    model_choice_field,
    put_refusal,
)
from governance.models import ApprovalStatus
from governance.services.approvals import approval_can_decide, approval_request_decide, current_step
from inventory.exceptions import InvalidCountTransition
from inventory.models import (
    AdjustmentStatus,
    CycleCount,
    CycleCountLineState,
    CycleCountStatus,
    Item,
    ItemUom,
    ReasonCode,
    ReasonCodeUse,
    StockBalance,
    StockMove,
    StockStatus,
    UnitOfMeasure,
)
from inventory.selectors import (
    count_is_blind,
    cycle_count_lines,
    cycle_counts,
    inventory_accuracy,
    item_by_sku,
    items_by_sku,
    network_availability,
)
from inventory.services import stock_adjustment_create, stock_status_change
from inventory.services.counts import (
    MAX_LINES,
    CountEntry,
    CountPair,
    cycle_count_create,
    cycle_count_record,
    cycle_count_recount,
    cycle_count_submit,
)
from warehouses.models import Location, Warehouse


def _conversions_of(item: Item) -> list[dict[str, Any]]:
    return [
        {"uom": conversion.uom, "factor": plain_number(conversion.factor)}
        for conversion in sorted(item.uoms.all(), key=lambda c: (c.factor, c.uom.code))
    ]


class ItemQuerysetMixin:
    request: Any

    def base_queryset(self) -> QuerySet[Item]:
        conversions = scope_queryset(ItemUom.objects.select_related("uom"), self.request.user)
        return Item.objects.select_related("base_uom").prefetch_related(Prefetch("uoms", queryset=conversions))


class ItemListView(ItemQuerysetMixin, ScreenListView[Item]):
    csv_kind = "items"
    model = Item
    permission_required = "inventory.view_item"
    template_name = "inventory/item_list.html"
    rows_template_name = "inventory/_item_rows.html"
    search_fields = ("sku", "name", "category")
    search_placeholder = "SKU, name or category"
    columns = (
        Column("SKU", "sku", sort="sku"),
        Column("Name", "name", sort="name"),
        Column("Category", "category", sort="category", css="col-opt"),
        Column("Base unit", "base_uom.code", sort="base_uom__code"),
        Column("Conversions", lambda item: [f"1 {c['uom'].code} = {c['factor']} {item.base_uom.code}"
                                            for c in _conversions_of(item)], css="col-opt"),
        Column("Lot tracked", "lot_tracked", sort="lot_tracked", css="col-opt"),
        Column("Status", lambda item: "active" if item.active else "inactive", sort="active", css="col-opt"),
    )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = [{"item": item, "conversions": _conversions_of(item)} for item in context["object_list"]]
        return context


class ItemDetailView(ItemQuerysetMixin, ScreenDetailView[Item]):
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
        found = item_by_sku(scope_queryset(Item.objects.select_related("base_uom"), self.request.user), sku)
        try:
            rows = network_availability(user=self.request.user, skus=[found.sku if found is not None else sku])
        except DomainError as error:
            context["error"] = error.message
            return context
        context["item"] = found
        fields = ("on_hand", "allocated", "available", "blocked")
        context["rows"] = [{"warehouse": row["warehouse"], **{f: plain_number(row[f]) for f in fields}}
                           for row in rows]
        context["totals"] = {f: plain_number(sum((row[f] for row in rows), Decimal(0))) for f in fields}
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
                       balances=[{"balance": b, "on_hand": plain_number(b.on_hand)} for b in balances])
        return context


class StockMoveListView(ScreenListView[StockMove]):
    """The stock ledger of the scope, newest first, narrowed by ``?sku=`` and ``?warehouse=`` and searchable."""

    has_filters = True

    model = StockMove
    permission_required = "inventory.view_stockmove"
    template_name = "inventory/stock_move_list.html"
    rows_template_name = "inventory/_stock_move_rows.html"
    search_fields = ("item__sku", "location__code", "reference", "reference_type")
    search_placeholder = "SKU, location or reference"
    title = "Stock moves"
    columns = (
        Column("When", "created_at", sort="created_at"),
        Column("SKU", "item.sku", sort="item__sku"),
        Column("Warehouse", "warehouse.code", sort="warehouse__code"),
        Column("Location", "location.code", sort="location__code"),
        Column("Lot", "lot.lot_number", sort="lot__lot_number", css="col-opt"),
        Column("Status", "status.name", sort="status__sort_order"),
        Column("Quantity", "quantity", sort="quantity", css="num"),
        Column("Unit", "item.base_uom.code"),
        Column("Reason", "reason.code", sort="reason__code", css="col-opt"),
        Column("Reference", lambda move: f"{move.reference_type} {move.reference_id or ''}".strip(), css="col-opt"),
        Column("By", lambda move: move.actor.get_username() if move.actor else "system", css="col-opt"),
    )

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def base_queryset(self) -> QuerySet[StockMove]:
        queryset = StockMove.objects.select_related("item__base_uom", "warehouse", "location", "lot", "status",
                                                    "reason", "actor")
        if sku := self.filter_value("sku"):
            queryset = queryset.filter(item__sku__iexact=sku)
        if warehouse := self.filter_value("warehouse"):
            queryset = queryset.filter(warehouse__code=warehouse)
        return queryset.order_by("-created_at", "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            sku=self.filter_value("sku"), warehouse=self.filter_value("warehouse"),
            warehouses=list(scope_queryset(Warehouse.objects.order_by("code"), self.request.user)
                            .values_list("code", flat=True)),
            rows=[{"move": move} for move in context["object_list"]],
        )
        return context


class ScanFormMixin:
    """What a scanned location and SKU resolve to, in the form's user's scope (handheld forms).

    Codes are trimmed, locations upper-cased; an unknown one is an error on its field.
    """

    user: Any
    add_error: Any

    def scan_location(self, data: dict[str, Any], warehouse: Warehouse) -> None:
        """``data["location"]`` of ``warehouse`` as ``data["location_obj"]`` (None, with an error, if unknown)."""
        if not data.get("location"):
            return
        code = data["location"].strip().upper()
        data["location_obj"] = scope_queryset(
            Location.objects.select_related("warehouse").filter(warehouse=warehouse, code=code), self.user).first()
        if data["location_obj"] is None:
            self.add_error("location", f"No location {code} in {warehouse.code}.")

    def scan_item(self, data: dict[str, Any]) -> None:
        """``data["sku"]`` as ``data["item"]``, and ``data["uom"]`` defaulting to the item's base unit."""
        if not data.get("sku"):
            return
        sku = data["sku"].strip()
        data["item"] = item_by_sku(scope_queryset(Item.objects.select_related("base_uom"), self.user), sku)
        if data["item"] is None:
            self.add_error("sku", f"Unknown SKU: {sku}.")
        else:
            data["uom"] = (data.get("uom") or "").strip().upper() or data["item"].base_uom.code


# A mixin of form views: at run time its ``super()`` is the view's ``FormMixin``, which the type checker is told
# by giving it that base while it checks, and only then.
if TYPE_CHECKING:
    _FormViewBase = FormMixin[Any]
else:
    _FormViewBase = object


class UserFormMixin(_FormViewBase):
    """A form view whose form takes the signed-in user (for its scope)."""

    request: HttpRequest

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        return kwargs


class StockStatusChangeForm(forms.Form):
    """The handheld form; choices come from the user's scope and the standard statuses and reasons. What stays
    the same from scan to scan comes first; the scanned fields last, the quantity the very last: a scanner's
    Enter moves to the next field and only the quantity's submits (``data-scanner-form``)."""

    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), to_field_name="code", empty_label=None)
    from_status = forms.ModelChoiceField(queryset=StockStatus.objects.all(), to_field_name="code", empty_label=None,
                                         initial="available")
    to_status = forms.ModelChoiceField(queryset=StockStatus.objects.all(), to_field_name="code", empty_label=None,
                                       initial="quality_hold")
    reason = forms.ModelChoiceField(queryset=ReasonCode.objects.filter(applies_to=ReasonCodeUse.STATUS_CHANGE),
                                    to_field_name="code", empty_label=None, initial="QC-HOLD")
    location = forms.CharField(max_length=32, required=False,
                               help_text="Leave empty when the stock sits in one location only.")
    sku = forms.CharField(label="SKU", max_length=40)
    lot = forms.CharField(max_length=64, required=False)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4, min_value=Decimal("0.0001"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        model_choice_field(self, "warehouse").queryset = scope_queryset(Warehouse.objects.order_by("code"), user)
        label_choices(self, "from_status", lambda status: status.name)
        label_choices(self, "to_status", lambda status: status.name)
        label_choices(self, "reason", lambda reason: f"{reason.code} · {reason.description}")
        if not self.is_bound and not self.initial.get("reason"):
            self.fields["reason"].widget.attrs["autofocus"] = True

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        warehouse = data.get("warehouse")
        if data.get("sku"):
            item = item_by_sku(scope_queryset(Item.objects.select_related("base_uom"), self.user), data["sku"])
            if item is None:
                self.add_error("sku", f"Unknown SKU: {data['sku']}.")
            data["item"] = item
        data["location_obj"] = None
        if warehouse is not None and data.get("location"):
            location = scope_queryset(
                Location.objects.filter(warehouse=warehouse, code=data["location"].strip().upper()), self.user).first()
            if location is None:
                self.add_error("location", f"No location {data['location']} in {warehouse.code}.")
            data["location_obj"] = location
        return data


class StockStatusChangeView(UserFormMixin, ScreenAccessMixin, FormView[StockStatusChangeForm]):
    """Move stock between statuses from a handheld: scan the location and the SKU, type the quantity, Enter.

    Calls ``inventory.services.stock_status_change``; its domain errors come back on the form, and
    success redirects (post/redirect/get) with a message giving the new availability at the warehouse.
    """

    permission_required = "inventory.change_stock_status"
    template_name = "inventory/stock_status_change.html"
    form_class = StockStatusChangeForm

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
            f"Moved {plain_number(data['quantity'])} {item.base_uom.code} of {item.sku} at {warehouse.code} "
            f"{moves[0].location.code} from {data['from_status'].name} to {data['to_status'].name}. "
            f"Now available {plain_number(row['available'])}, blocked {plain_number(row['blocked'])}."
        ))
        return redirect(f"{reverse('inventory:stock-status-change')}?warehouse={warehouse.code}")


# --- cycle counts (issue 4, point 7) ----------------------------------------------------------------------

ACCURACY_DAYS = 90
# Counts someone still has to act on are listed before the closed ones.
ACTIVE_COUNT_STATUSES = (CycleCountStatus.OPEN, CycleCountStatus.PENDING_APPROVAL)
SKU_SEPARATORS = re.compile(r"[\s,;]+")
# The fields of the count entry form in screen order: focus goes to the first one with an error.
ENTRY_FIELDS = ("location", "sku", "lot", "uom", "quantity")
# The badge each count status wears (classes of concord.css).
COUNT_BADGES: dict[str, str] = {
    CycleCountStatus.OPEN: "badge--soon", CycleCountStatus.PENDING_APPROVAL: "appr-status--pending",
    CycleCountStatus.POSTED: "badge--ok", CycleCountStatus.REJECTED: "appr-status--rejected",
    CycleCountStatus.RECOUNTED: "badge--off", CycleCountStatus.CANCELLED: "badge--off",
}


def signed_quantity(quantity: Decimal) -> str:
    """A variance or adjustment with its sign: +5, -2.5, 0."""
    text = plain_number(quantity)
    return f"+{text}" if quantity > 0 else text


def _refusal(error: DomainError) -> str:
    """A domain error as one sentence for a message; an incomplete count names the first lines still to count."""
    lines = error.detail.get("lines") if isinstance(error.detail, dict) else None
    missing = [f"{line['location']} {line['sku']}{' lot ' + line['lot'] if line.get('lot') else ''}"
               for line in (lines or []) if isinstance(line, dict) and "location" in line][:5]
    if missing:
        return f"{error.message} Still to count: {', '.join(missing)}{' ...' if len(lines or []) > 5 else ''}."
    problems = [str(problem) for value in error.detail.values() if isinstance(value, list)
                for problem in value if isinstance(problem, str)] if isinstance(error.detail, dict) else []
    return " ".join([error.message, *problems])


class CycleCountCreateForm(ScanFormMixin, forms.Form):
    """A count opened by hand: one location of a warehouse of the scope and the SKUs to count there."""

    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), to_field_name="code", empty_label=None)
    location = forms.CharField(max_length=32)
    skus = forms.CharField(label="SKUs", max_length=20_000,
                           help_text="One or more, separated by spaces or commas; SKU/LOT names one lot.")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        model_choice_field(self, "warehouse").queryset = scope_queryset(Warehouse.objects.order_by("code"), user)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        warehouse = data.get("warehouse")
        if warehouse is not None:
            self.scan_location(data, warehouse)
        if data.get("skus"):
            tokens = [token for token in SKU_SEPARATORS.split(data["skus"]) if token]
            if len(tokens) > MAX_LINES:
                self.add_error("skus", f"At most {MAX_LINES} SKUs per count.")
                return data
            wanted = [(sku, lot or None) for sku, _, lot in (token.partition("/") for token in tokens)]
            items = items_by_sku(scope_queryset(Item.objects.select_related("base_uom"), self.user),
                                 {sku for sku, _ in wanted})
            unknown = list(dict.fromkeys(sku for sku, _ in wanted if sku not in items))
            if unknown:
                self.add_error("skus", f"Unknown SKU{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
            data["wanted"] = [(items[sku], lot) for sku, lot in wanted if sku in items]
        return data


class CycleCountListView(ScreenListView[CycleCount]):
    """The counts of the scope, open and waiting ones first, then the newest, narrowed by warehouse and status.

    Beside the list: inventory accuracy per warehouse of the scope over the last 90 days and, for users
    who may count, the form that opens a count by hand (it posts to ``CycleCountCreateView``).
    """

    has_filters = True

    model = CycleCount
    permission_required = "inventory.view_cyclecount"
    template_name = "inventory/cycle_count_list.html"
    rows_template_name = "inventory/_cycle_count_rows.html"
    search_fields = ("number",)
    search_placeholder = "Count number"
    title = "Cycle counts"
    columns = (
        Column("Count", "number", sort="number"),
        Column("Warehouse", "warehouse.code", sort="warehouse__code"),
        Column("Status", "get_status_display", sort="status"),
        Column("Counted", lambda count: f"{count.counted_count} / {count.line_count}", sort="counted_count",
               css="num"),
        Column("Origin", "get_origin_display", sort="origin", css="col-opt"),
        Column("Opened", "created_at", sort="created_at", css="col-opt"),
        Column("Submitted", "submitted_at", sort="submitted_at", css="col-opt"),
    )

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def base_queryset(self) -> QuerySet[CycleCount]:
        # The selector scopes already; ScopedQuerysetMixin narrows again, which changes nothing.
        queryset = cycle_counts(self.request.user)
        if warehouse := self.filter_value("warehouse"):
            queryset = queryset.filter(warehouse__code=warehouse)
        if status := self.filter_value("status"):
            queryset = queryset.filter(status=status)
        active_first = Case(When(status__in=ACTIVE_COUNT_STATUSES, then=Value(0)), default=Value(1),
                            output_field=IntegerField())
        return queryset.order_by(active_first, "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        warehouse = self.filter_value("warehouse")
        context.update(
            warehouse=warehouse, status=self.filter_value("status"), statuses=CycleCountStatus.choices,
            warehouses=list(scope_queryset(Warehouse.objects.order_by("code"), user).values_list("code", flat=True)),
            rows=[{"count": count} for count in context["object_list"]],
        )
        if is_htmx_partial(self.request):
            return context
        # Local dates: a warehouse east of UTC may already be a day ahead, so the window ends a day after
        # today (UTC) and no count of the last 90 days is left out anywhere.
        today = timezone.localdate()
        context["accuracy"] = [
            {"warehouse": row.warehouse, "counted": row.pairs_counted, "within": row.pairs_within_tolerance,
             "percent": row.accuracy_percent}
            for row in inventory_accuracy(user=user, since=today - dt.timedelta(days=ACCURACY_DAYS - 1),
                                          until=today + dt.timedelta(days=1))
        ]
        context["accuracy_days"] = ACCURACY_DAYS
        if user.has_perm("inventory.add_cyclecount"):
            context["create_form"] = CycleCountCreateForm(user=user, initial={"warehouse": warehouse or None})
        return context


class CycleCountCreateView(UserFormMixin, ScreenAccessMixin, FormView[CycleCountCreateForm]):
    """Open a count by hand (``cycle_count_create``) and go to it; refusals come back on the form."""

    permission_required = "inventory.add_cyclecount"
    template_name = "inventory/cycle_count_create.html"
    form_class = CycleCountCreateForm

    def form_valid(self, form: CycleCountCreateForm) -> HttpResponse:
        data = form.cleaned_data
        location = data["location_obj"]
        try:
            count = cycle_count_create(
                warehouse=data["warehouse"], actor=self.request.user,
                pairs=[CountPair(location=location, item=item, lot_number=lot) for item, lot in data["wanted"]],
            )
        except DomainError as error:
            put_refusal(form, error)
            return self.form_invalid(form)
        lines = count.lines.count()
        messages.success(self.request, f"{count.number} is open: {lines} line{'s' if lines != 1 else ''} to count "
                                       f"at {data['warehouse'].code} {location.code}.")
        return redirect("inventory:cycle-count-detail", pk=count.pk)


class CycleCountEntryForm(ScanFormMixin, forms.Form):
    """What a counter found: a location and an item scanned, the lot when the item has lots, the quantity."""

    location = forms.CharField(max_length=32)
    sku = forms.CharField(label="Item (SKU)", max_length=40)
    lot = forms.CharField(max_length=64, required=False)
    quantity = forms.DecimalField(label="Counted quantity", max_digits=18, decimal_places=4, min_value=0)
    uom = forms.CharField(label="Unit", max_length=16, required=False)

    def __init__(self, *args: Any, count: CycleCount, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count, self.user = count, user

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        warehouse = self.count.warehouse
        self.scan_location(data, warehouse)
        self.scan_item(data)
        data["lot"] = (data.get("lot") or "").strip() or None
        return data

    def focus(self) -> str:
        """The field a counter types into next: the first with a problem, else the item when the location
        is kept from the last entry, else the location."""
        if self.is_bound and self.errors:
            return next((name for name in ENTRY_FIELDS if name in self.errors), "quantity")
        return "sku" if self["location"].value() else "location"


class CycleCountMixin(ScreenAccessMixin):
    """A count of the user's scope by its id: any other is a 404, like one that does not exist."""

    request: HttpRequest
    kwargs: dict[str, Any]

    def get_count(self) -> CycleCount:
        counts = cycle_counts(self.request.user).select_related("warehouse__legal_entity")
        return get_object_or_404(counts, pk=self.kwargs["pk"])


def _line_rows(count: CycleCount) -> list[dict[str, Any]]:
    """The count's lines for the screen. While it is open they carry only what was counted: the expected
    quantity, the variance and its value are not even handed to the template (blind counting)."""
    blind = count_is_blind(count)
    rows = []
    for line in cycle_count_lines(count).select_related("item__base_uom"):
        base = line.item.base_uom.code
        row: dict[str, Any] = {
            "line": line, "base": base, "to_count": line.state == CycleCountLineState.PENDING,
            "counted": None if line.counted_quantity is None else plain_number(line.counted_quantity),
            "entered": (f"{plain_number(line.uom_quantity)} {line.uom_code}"
                        if line.uom_code and line.uom_code != base and line.uom_quantity is not None else ""),
        }
        if not blind:
            row.update(
                expected=None if line.expected_quantity is None else plain_number(line.expected_quantity),
                variance=None if line.variance is None else signed_quantity(line.variance),
                value=None if line.variance_value is None else signed_quantity(line.variance_value),
            )
        rows.append(row)
    return rows


def _lines_context(count: CycleCount) -> dict[str, Any]:
    rows = _line_rows(count)
    return {"rows": rows, "line_total": len(rows), "line_counted": sum(1 for row in rows if not row["to_count"]),
            "lot_skus": sorted({row["line"].item.sku for row in rows if row["line"].item.lot_tracked})}


def _approval_context(count: CycleCount, user: Any) -> dict[str, Any]:
    """The count's approval request, its current step and whether ``user`` may decide it now."""
    approval = count.approval_request
    if approval is None:
        return {}
    step = current_step(approval) if approval.status == ApprovalStatus.PENDING else None
    if step is not None:
        step.request = approval
    return {
        "approval": approval, "approval_step": step,
        "can_decide": count.status == CycleCountStatus.PENDING_APPROVAL and step is not None
        and approval_can_decide(step=step, user=user),
        "approval_url": (reverse("governance:approval-detail", args=[approval.pk])
                         if user.has_perm("governance.view_approvalrequest") else ""),
    }


def _count_context(request: HttpRequest, count: CycleCount, entry_form: CycleCountEntryForm | None = None,
                   ) -> dict[str, Any]:
    user = request.user
    is_open = count.status == CycleCountStatus.OPEN
    can_count = is_open and user.has_perm("inventory.add_cyclecount")
    context: dict[str, Any] = {"count": count, "is_open": is_open, "can_count": can_count,
                               "badge": COUNT_BADGES.get(count.status, ""), **_lines_context(count)}
    if can_count:
        location = request.GET.get("location", "").strip()[:32]
        context["form"] = entry_form or CycleCountEntryForm(count=count, user=user, initial={"location": location})
        context["uoms"] = list(UnitOfMeasure.objects.order_by("code").values_list("code", flat=True))
    if not is_open:
        context.update(_approval_context(count, user))
        context["recounts"] = list(count.recounts.order_by("id").values_list("pk", "number"))
    return context


def _to_count(request: HttpRequest, pk: int) -> HttpResponse:
    """Back to the count's page: a redirect, or for htmx an ``HX-Redirect`` (the whole page must change)."""
    target = reverse("inventory:cycle-count-detail", args=[pk])
    if is_htmx_partial(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


class CycleCountDetailView(CycleCountMixin, TemplateView):
    """One count on a handheld. Open: the scan-and-count form and the lines, blind. Submitted: every line
    with expected, counted, variance, value and tolerance, and the approval with its buttons for an approver.
    """

    permission_required = "inventory.view_cyclecount"
    template_name = "inventory/cycle_count_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(_count_context(self.request, self.get_count()))
        return context


class CycleCountRecordView(CycleCountMixin, View):
    """The counter's Enter: ``cycle_count_record`` for one entry.

    htmx gets back the entry form (the location kept, the item, lot and quantity cleared, the focus on the
    item: the next scan is usually another item of the same bin) and, out of band, the lines. A refusal
    comes back on the form, with what was typed, and records nothing. Without JavaScript the same post
    redirects to the count, or shows the whole page with the refusal.
    """

    permission_required = "inventory.add_cyclecount"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        count = self.get_count()
        form = CycleCountEntryForm(request.POST, count=count, user=request.user)
        recorded = ""
        if form.is_valid():
            data = form.cleaned_data
            item, location = data["item"], data["location_obj"]
            try:
                cycle_count_record(count=count, actor=request.user, entries=[CountEntry(
                    location=location, item=item, quantity=data["quantity"], uom=data["uom"],
                    lot_number=data["lot"])])
            except InvalidCountTransition as error:
                # Submitted or cancelled meanwhile (another handheld): the counter needs the count as it is now.
                messages.error(request, error.message)
                return _to_count(request, count.pk)
            except DomainError as error:
                put_refusal(form, error)
            else:
                recorded = (f"Counted {plain_number(data['quantity'])} {data['uom']} of {item.sku}"
                            f"{' lot ' + data['lot'] if data['lot'] else ''} at {location.code}.")
                form = CycleCountEntryForm(count=count, user=request.user, initial={"location": location.code})
        if is_htmx_partial(request):
            context = {**_count_context(request, count, entry_form=form), "recorded": recorded}
            response = render(request, "inventory/_cycle_count_record.html", context)
            patch_vary_headers(response, ["HX-Request"])
            return response
        if recorded:
            messages.success(request, recorded)
            return redirect(f"{reverse('inventory:cycle-count-detail', args=[count.pk])}?"
                            f"{urlencode({'location': form['location'].value()})}")
        return render(request, "inventory/cycle_count_detail.html", _count_context(request, count, entry_form=form))


class CycleCountSubmitView(CycleCountMixin, View):
    """Submit the count (``cycle_count_submit``); the count's page then shows how it ended."""

    permission_required = "inventory.add_cyclecount"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        count = self.get_count()
        try:
            done = cycle_count_submit(count=count, actor=request.user)
        except DomainError as error:
            messages.error(request, _refusal(error))
            return redirect("inventory:cycle-count-detail", pk=count.pk)
        lines = list(done.lines.values_list("state", flat=True))
        waiting = lines.count(CycleCountLineState.PENDING_APPROVAL)
        if done.status == CycleCountStatus.POSTED:
            messages.success(request, f"{done.number} is posted: {len(lines)} line{'s' if len(lines) != 1 else ''} "
                                      f"counted, every variance within tolerance.")
        else:
            posted = " The lines within tolerance are posted." if waiting < len(lines) else ""
            messages.info(request, f"{done.number} is pending approval: {waiting} of {len(lines)} "
                                   f"line{'s' if len(lines) != 1 else ''} beyond tolerance, waiting for an "
                                   f"approver.{posted}")
        return redirect("inventory:cycle-count-detail", pk=count.pk)


class CycleCountDecideView(CycleCountMixin, View):
    """The approver's buttons on a count pending approval: approve or reject (the approval engine's
    ``approval_request_decide``) or send the lines beyond tolerance to a recount (``cycle_count_recount``,
    then on to the new count). Whether the user may decide is the engine's call; a refusal is a message.
    """

    permission_required = "inventory.view_cyclecount"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        count = self.get_count()
        decision = request.POST.get("decision", "")
        comment = request.POST.get("comment", "").strip()[:2000]
        here = redirect("inventory:cycle-count-detail", pk=count.pk)
        if decision == "recount":
            try:
                recount = cycle_count_recount(count=count, actor=request.user, comment=comment)
            except DomainError as error:
                messages.error(request, _refusal(error))
                return here
            messages.success(request, f"{count.number} goes back to the floor: {recount.number} recounts its lines "
                                      f"beyond tolerance, blind.")
            return redirect("inventory:cycle-count-detail", pk=recount.pk)
        if decision not in ("approve", "reject"):
            messages.error(request, "Choose approve, reject or recount.")
            return here
        if decision == "reject" and not comment:
            messages.error(request, "Say why you reject it: the counter reads the comment.")
            return here
        approval = count.approval_request
        if approval is None:
            messages.error(request, f"{count.number} is {count.get_status_display().lower()}; nothing to decide.")
            return here
        try:
            approval_request_decide(request=approval, actor=request.user, approve=decision == "approve",
                                    comment=comment)
        except DomainError as error:
            messages.error(request, _refusal(error))
            return here
        count.refresh_from_db(fields=["status"])
        messages.success(request, f"{'Approved' if decision == 'approve' else 'Rejected'}: {count.number} is "
                                  f"{count.get_status_display().lower()}.")
        return here


# --- stock adjustments on a handheld (issue 4, point 9) ---------------------------------------------------


class StockAdjustForm(ScanFormMixin, forms.Form):
    """The handheld adjustment: choices come from the user's scope and the adjustment reason codes.

    The reason comes first (it is usually the same for a run of adjustments and is kept for the next
    one), the quantity last, so that Enter in it posts a complete form.
    """

    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), to_field_name="code", empty_label=None)
    reason = forms.ModelChoiceField(queryset=ReasonCode.objects.filter(applies_to=ReasonCodeUse.ADJUSTMENT),
                                    to_field_name="code", empty_label="Choose a reason")
    location = forms.CharField(max_length=32)
    sku = forms.CharField(label="SKU", max_length=40)
    lot = forms.CharField(max_length=64, required=False, help_text="Only for lot-tracked items.")
    uom = forms.CharField(label="Unit", max_length=16, required=False,
                          help_text="Leave empty for the item's base unit.")
    quantity = forms.DecimalField(max_digits=18, decimal_places=4,
                                  help_text="Signed: 5 adds stock found, -5 takes away stock lost.")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        model_choice_field(self, "warehouse").queryset = scope_queryset(Warehouse.objects.order_by("code"), user)
        label_choices(self, "reason", lambda reason: f"{reason.code} · {reason.description}")
        if not self.is_bound and not self.initial.get("reason"):
            self.fields["reason"].widget.attrs["autofocus"] = True

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        warehouse = data.get("warehouse")
        self.scan_item(data)
        if warehouse is not None:
            self.scan_location(data, warehouse)
        return data


class StockAdjustView(UserFormMixin, ScreenAccessMixin, FormView[StockAdjustForm]):
    """Adjust available stock from a handheld: scan the location and the SKU, type the signed quantity, Enter.

    Calls ``inventory.services.stock_adjustment_create``: within tolerance the message says it posted and
    gives the new on-hand there; beyond it, that the document waits for approval. Refusals come back on
    the form and nothing is written.
    """

    permission_required = "inventory.add_stockadjustment"
    template_name = "inventory/stock_adjust.html"
    form_class = StockAdjustForm

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        for name in ("warehouse", "reason"):
            if value := self.request.GET.get(name):
                initial[name] = value
        return initial

    def form_valid(self, form: StockAdjustForm) -> HttpResponse:
        data = form.cleaned_data
        item, warehouse, location = data["item"], data["warehouse"], data["location_obj"]
        try:
            adjustment = stock_adjustment_create(
                warehouse=warehouse, location=location, item=item, quantity=data["quantity"], uom=data["uom"],
                reason=data["reason"], actor=self.request.user, lot_number=(data["lot"] or "").strip() or None,
            )
        except DomainError as error:
            put_refusal(form, error)
            return self.form_invalid(form)
        what = (f"{signed_quantity(data['quantity'])} {data['uom']} of {item.sku}"
                f"{' lot ' + adjustment.lot.lot_number if adjustment.lot else ''} at {warehouse.code} {location.code} "
                f"({data['reason'].code})")
        if adjustment.status == AdjustmentStatus.POSTED:
            on_hand = (StockBalance.objects.filter(item=item, location=location, lot=adjustment.lot)
                       .aggregate(total=Sum("on_hand"))["total"]) or Decimal(0)
            messages.success(self.request, f"{adjustment.number} posted: {what}. On hand there now "
                                           f"{plain_number(on_hand)} {item.base_uom.code}.")
        else:
            messages.info(self.request, f"{adjustment.number} is waiting for approval: {what} is beyond tolerance; "
                                        f"the stock moves when it is approved.")
        return redirect(f"{reverse('inventory:stock-adjust')}?"
                        f"{urlencode({'warehouse': warehouse.code, 'reason': data['reason'].code})}")
