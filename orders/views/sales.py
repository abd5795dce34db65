"""Customer-service screens of sales orders: the order list (with the fill rate of the scope), the order's page
(lines, allocations, pick lists, shipments, returns, its history; confirm and cancel) and order entry, which
previews, line by line, where the stock would come from and the date it would be promised.

Every screen reads through ``orders.selectors`` narrowed to the user's scope (an order outside it is a 404, as
one that does not exist) and writes through ``orders.services.sales``; a refusal is a message on the page,
never a server error.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Case, Q, QuerySet, Value, When
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views import View
from django.views.generic import TemplateView

from erp.confirm import ConfirmStepView
from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.scoping import scope_queryset
from erp.screens import (
    SEARCH_MAX_LENGTH,
    Column,
    ScreenAccessMixin,
    ScreenDetailView,
    ScreenListView,
    added_line_fragment,
    is_htmx_partial,
    label_choices,
    model_choice_field,
    with_one_more_line,
)
from governance.audit import attach_shown_changes
from inventory.line_forms import ItemLineForm, ItemLineFormSet
from inventory.models import Item
from inventory.selectors import item_by_sku
from orders import rules, selectors
from orders.models import Customer, OrderStatus, SalesOrder, ShipTo
from orders.services.sales import MAX_LINES, OrderLineSpec, sales_order_cancel, sales_order_confirm, sales_order_create
from warehouses.models import Warehouse

# The badge each order status wears (classes of concord.css).
STATUS_BADGES: dict[str, str] = {
    OrderStatus.DRAFT: "badge--soon", OrderStatus.ALLOCATED: "badge--ok", OrderStatus.SHIPPED: "badge--ok",
    OrderStatus.DELIVERED: "badge--ok", OrderStatus.PARTIALLY_ALLOCATED: "appr-status--pending",
    OrderStatus.BACKORDERED: "appr-status--rejected", OrderStatus.CANCELLED: "badge--off",
    OrderStatus.CLOSED: "badge--off",
}
FILL_RATE_DAYS = selectors.FILL_RATE_DEFAULT_DAYS
LINE_PREFIX = re.compile(r"^lines-\d{1,3}$")
SUGGESTIONS = 6  # items offered for what a line's SKU field holds when it names none


def percent(rate: Decimal | None) -> str:
    return "" if rate is None else f"{(rate * 100).quantize(Decimal('0.1'))} %"


def url_or_none(name: str, *args: Any) -> str | None:
    """The address of a screen another area provides, or None while that screen does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def parse_date(value: str) -> dt.date | None:
    """An ISO date typed into a filter, or None when blank; ``ValueError`` when it is not one."""
    value = value.strip()
    return dt.date.fromisoformat(value) if value else None


def refusal(error: DomainError) -> str:
    """A service's refusal as one sentence: its message and the problems it names."""
    problems = []
    if isinstance(error.detail, dict):
        for value in error.detail.values():
            if isinstance(value, list):
                problems += [str(problem) for problem in value if isinstance(problem, str)]
    return " ".join([error.message, *problems])


# --- the order list ----------------------------------------------------------------------------------------


class OrderListView(ScreenListView[SalesOrder]):
    """The orders of the user's regions, newest first, narrowed by status, a line's warehouse and a date range
    (of the day taken or the requested date), and searchable by number, customer or reference. Above the list,
    the fill rate of the user's scope over the last 30 days."""

    has_filters = True

    model = SalesOrder
    permission_required = "orders.view_salesorder"
    template_name = "orders/sales/order_list.html"
    rows_template_name = "orders/sales/_order_rows.html"
    search_fields = ("number", "customer__code", "customer__name", "external_ref")
    search_placeholder = "Number, customer or reference"
    title = "Sales orders"
    columns = (
        Column("Order", "number", sort="number"),
        Column("Customer", "customer.code", sort="customer__code"),
        Column("Status", "get_status_display", sort="status"),
        Column("Ship to", "ship_to.code", css="col-opt"),
        Column("Reference", "external_ref", sort="external_ref", css="col-opt"),
        Column("Lines", "line_count", sort="line_count", css="num"),
        Column("Warehouses", "warehouse_codes"),
        Column("Requested", "requested_date", sort="requested_date", css="col-opt"),
        Column("Promised", "promised_until", sort="promised_until"),
        Column("Taken", "created_at", sort="created_at", css="col-opt"),
    )
    _filters: dict[str, Any]  # filters(), once per request

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def filters(self) -> dict[str, Any]:
        """The filters as typed, plus the dates parsed; a date that is not one is ignored and said so."""
        if hasattr(self, "_filters"):
            return self._filters
        status, promise = self.filter_value("status"), self.filter_value("promise")
        values: dict[str, Any] = {
            "status": status if status in OrderStatus.values else "",
            "warehouse": self.filter_value("warehouse"),
            "dates": "requested" if self.filter_value("dates") == "requested" else "created",
            "from": self.filter_value("from"), "to": self.filter_value("to"), "date_error": "",
            "promise": promise if promise in selectors.PROMISE_FILTERS else "",
        }
        for name in ("from", "to"):
            try:
                values[f"{name}_date"] = parse_date(values[name])
            except ValueError:
                values[f"{name}_date"] = None
                values["date_error"] = "Dates are typed as YYYY-MM-DD; the date filter was left out."
        self._filters = values
        return values

    def base_queryset(self) -> QuerySet[SalesOrder]:
        f = self.filters()
        return selectors.sales_order_list(self.request.user, status=f["status"], warehouse=f["warehouse"],
                                          date_basis=f["dates"], date_from=f["from_date"], date_to=f["to_date"],
                                          promise=f["promise"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(
            filters=self.filters(), statuses=OrderStatus.choices, promises=selectors.PROMISE_FILTERS.items(),
            warehouses=list(scope_queryset(Warehouse.objects.order_by("code"), user).values_list("code", flat=True)),
            rows=[{"order": order, "badge": STATUS_BADGES.get(order.status, "")} for order in context["object_list"]],
        )
        if is_htmx_partial(self.request) or not user.has_perm("orders.view_salesorderline"):
            return context
        today = timezone.localdate()
        result = selectors.fill_rate(user=user, date_from=today - dt.timedelta(days=FILL_RATE_DAYS - 1),
                                     date_to=today)
        context["fill_rate"] = {
            "days": FILL_RATE_DAYS, "due": result.lines_due, "filled": result.lines_filled,
            "percent": percent(result.fill_rate),
            "warehouses": [{"warehouse": row.warehouse, "due": row.lines_due, "filled": row.lines_filled,
                            "percent": percent(row.fill_rate)} for row in result.warehouses],
        }
        return context


# --- the order's page --------------------------------------------------------------------------------------


class OrderDetailView(ScreenDetailView[SalesOrder]):
    """One order of the user's scope: header, lines with what is allocated, backordered and shipped, the
    allocations (warehouse, lot, pick list), the pick lists, shipments and returns, and the history of the
    order and its lines. Users who may change orders get Confirm (a draft) and Cancel (what has not shipped)."""

    model = SalesOrder
    permission_required = "orders.view_salesorder"
    template_name = "orders/sales/order_detail.html"
    context_object_name = "order"

    def base_queryset(self) -> QuerySet[SalesOrder]:
        return selectors.sales_order_details()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        order: SalesOrder = self.object
        user = self.request.user
        lines = list(order.lines.all())
        documents = selectors.sales_order_documents(order, user)
        can_change = user.has_perm("orders.change_salesorder")
        context.update(
            badge=STATUS_BADGES.get(order.status, ""),
            lines=[_line_row(line) for line in lines],
            allocations=[_allocation_row(line, allocation) for line in lines for allocation in line.allocations.all()],
            pick_lists=[{"document": p, "url": url_or_none("orders:pick-list-detail", p.pk)}
                        for p in documents.pick_lists],
            shipments=[{"document": s, "url": url_or_none("orders:shipment-detail", s.pk)}
                       for s in documents.shipments],
            returns=[{"document": r, "url": url_or_none("orders:return-detail", r.pk)} for r in documents.returns],
            can_confirm=can_change and order.status == OrderStatus.DRAFT,
            can_cancel=can_change and rules.order_may_move(order.status, OrderStatus.CANCELLED),
            show_history=user.has_perm("governance.view_auditevent"),
        )
        if context["show_history"]:
            context["history"] = history = list(selectors.sales_order_history(order, user))
            attach_shown_changes(history, user)
            for event in history:  # which part of the order each change is about, on the shared history partial
                event.part = f"Line {event.line_no}" if getattr(event, "line_no", None) else "Order"
        return context


def _line_row(line: Any) -> dict[str, Any]:
    base = line.item.base_uom.code
    entered = f"{plain_number(line.uom_quantity)} {line.uom_code}"
    return {
        "line": line, "badge": STATUS_BADGES.get(line.status, ""), "base": base, "entered": entered,
        "quantity": plain_number(line.quantity), "show_base": line.uom_code != base,
        "allocated": plain_number(line.allocated_quantity), "backordered": plain_number(line.backordered_quantity),
        "shipped": plain_number(line.shipped_quantity),
    }


def _allocation_row(line: Any, allocation: Any) -> dict[str, Any]:
    pick_list = allocation.pick_list
    return {
        "line_no": line.line_no, "sku": line.item.sku, "base": line.item.base_uom.code, "allocation": allocation,
        "quantity": plain_number(allocation.quantity), "pick_list": pick_list,
        "pick_list_url": url_or_none("orders:pick-list-detail", pick_list.pk) if pick_list else None,
    }


class OrderActionView(ScreenAccessMixin, View):
    """A button on the order's page: run the service, say what happened, go back to the order."""

    permission_required = "orders.change_salesorder"
    http_method_names = ["post"]

    def get_order(self, pk: int) -> SalesOrder:
        return get_object_or_404(scope_queryset(SalesOrder.objects.all(), self.request.user), pk=pk)

    def act(self, order: SalesOrder) -> str:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = self.get_order(pk)
        try:
            done = self.act(order)
        except DomainError as error:
            messages.error(request, refusal(error))
        else:
            messages.success(request, done)
        return redirect("orders:order-detail", pk=order.pk)


class OrderConfirmView(OrderActionView):
    def act(self, order: SalesOrder) -> str:
        confirmed = sales_order_confirm(order=order, actor=self.request.user)
        return _confirmed_message(confirmed)


class OrderCancelView(ConfirmStepView[SalesOrder]):
    """Cancel what of an order has not shipped, through the confirm step (``erp.confirm``): the page names the
    allocations released, the pick lines dropped and the lines cancelled; the reason is kept on the order."""

    permission_required = "orders.change_salesorder"
    button_label = "Cancel the order"
    back_label = "Keep the order"
    takes_reason = True

    def get_target(self, pk: int) -> SalesOrder:
        return get_object_or_404(scope_queryset(SalesOrder.objects.select_related("customer"), self.request.user),
                                 pk=pk)

    def question(self, target: SalesOrder) -> str:
        return f"Cancel order {target.number}?"

    def undoes(self, target: SalesOrder) -> list[str]:
        return selectors.sales_order_cancel_undoes(target)

    def back_url(self, target: SalesOrder) -> str:
        return reverse("orders:order-detail", args=[target.pk])

    def perform(self, target: SalesOrder, reason: str) -> str:
        cancelled = sales_order_cancel(order=target, actor=self.request.user, reason=reason)
        return f"{cancelled.number} is {cancelled.get_status_display().lower()}: every allocation is released."


def _confirmed_message(order: SalesOrder) -> str:
    status = order.get_status_display().lower()
    if order.status == OrderStatus.BACKORDERED:
        return f"{order.number} is confirmed and backordered: nothing could be allocated yet; the planner has a " \
               f"shortage to work."
    if order.status == OrderStatus.PARTIALLY_ALLOCATED:
        return f"{order.number} is confirmed and {status}: what could not be had is backordered."
    return f"{order.number} is confirmed and {status}."


# --- order entry -------------------------------------------------------------------------------------------


def ship_to_choices(customer: Customer | None) -> tuple[list[tuple[str, str]], str]:
    """The customer's addresses by code, and the one to pre-select: its default address ("" when it has none,
    so the browser shows the first)."""
    if customer is None:
        return [("", "Choose a customer first")], ""
    addresses = list(customer.ship_tos.order_by("code"))
    choices = [(s.code, f"{s.code} · {s.name}, {s.city}{' (default)' if s.default else ''}") for s in addresses]
    return choices, next((s.code for s in addresses if s.default), "")


def customers_for(user: Any) -> QuerySet[Customer]:
    return scope_queryset(Customer.objects.filter(active=True).select_related("home_warehouse", "region")
                          .order_by("code"), user)


class OrderEntryForm(forms.Form):
    """The order's header: a customer of the user's scope, one of its addresses, the date wanted, a reference."""

    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), to_field_name="code",
                                      empty_label="Choose a customer")
    ship_to = forms.CharField(label="Ship to", max_length=32, widget=forms.Select, required=False,
                              help_text="The customer's default address when left out.")
    requested_date = forms.DateField(label="Requested date", required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}),
                                     help_text="When the customer wants the goods; no promise is earlier.")
    external_ref = forms.CharField(label="Customer reference", max_length=64, required=False,
                                   help_text="Their PO number, unique per customer.")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.customers = customers_for(user)
        model_choice_field(self, "customer").queryset = self.customers
        label_choices(self, "customer", lambda c: f"{c.code} · {c.name}")
        # Choosing a customer reloads the ship-to choices (htmx); without JavaScript, submitting does.
        self.fields["customer"].widget.attrs.update({"hx-get": reverse("orders:order-ship-tos"),
                                                     "hx-target": "#ship-to-field", "hx-trigger": "change"})
        choices, default = ship_to_choices(self.chosen_customer())
        self.fields["ship_to"].widget.choices = choices
        # What the select shows chosen: the address typed, when it is one of the customer's (a customer switched
        # without JavaScript keeps none of the other's), else the customer's default address.
        typed = str((self.data.get("ship_to") if self.is_bound else self.initial.get("ship_to")) or "")
        self.selected_ship_to = typed if typed in {code for code, _ in choices} and typed else default

    def chosen_customer(self) -> Customer | None:
        code = (self.data.get("customer") if self.is_bound else self.initial.get("customer")) or ""
        return self.customers.filter(code=str(code)[:32]).first() if code else None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        customer, code = data.get("customer"), data.get("ship_to")
        data["ship_to_obj"] = None  # none typed: the service takes the customer's default address
        if customer is not None and code:
            data["ship_to_obj"] = ShipTo.objects.filter(customer=customer, code=code).first()
            if data["ship_to_obj"] is None:
                self.add_error("ship_to", f"{code} is not an address of {customer.code}.")
        return data


class OrderLineForm(ItemLineForm):
    """One line as typed; a row left blank is skipped. The unit defaults to the item's base unit."""


class BaseOrderLineFormSet(ItemLineFormSet[OrderLineForm]):
    """The lines: at least one; every SKU an active item, every unit one of the item's (two queries)."""

    document = "An order"

    def line_spec(self, form: OrderLineForm, item: Item, data: dict[str, Any]) -> OrderLineSpec:
        return OrderLineSpec(item=item, quantity=data["quantity"], uom=data["uom"])


OrderLineFormSet: type[BaseOrderLineFormSet] = formset_factory(  # type: ignore[assignment]  # a subclass of formset=; the stub says BaseFormSet
    OrderLineForm, formset=BaseOrderLineFormSet, extra=0, min_num=1, max_num=MAX_LINES, absolute_max=MAX_LINES,
    validate_max=True)


class OrderEntryView(ScreenAccessMixin, View):
    """Take an order: the header, the lines (each previews its warehouse and promised date as it is typed), then
    *Create draft* (``sales_order_create``) or *Create and confirm* (then ``sales_order_confirm``).

    *Add line* posts the form back with one more row (htmx swaps in the lines only). Refusals come back on the
    form with what was typed, and nothing is written; a draft taken whose confirmation is refused is kept, and
    its page says why it was not confirmed.
    """

    permission_required = "orders.add_salesorder"
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {"customer": request.GET.get("customer", "")[:32]}
        form = OrderEntryForm(user=request.user, initial=initial)
        return self.page(form, OrderLineFormSet(prefix="lines", user=request.user))

    def page(self, form: OrderEntryForm, lines: BaseOrderLineFormSet, *, show_errors: bool = False,
             focus_last: bool = False) -> HttpResponse:
        context = {"form": form, "lines": lines, "show_errors": show_errors, "focus_last": focus_last,
                   "can_confirm": self.request.user.has_perm("orders.change_salesorder")}
        response = render(self.request, "orders/sales/order_entry.html", context)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "create")
        if action == "add_line":
            return self.add_line()
        form = OrderEntryForm(request.POST, user=request.user)
        lines = OrderLineFormSet(request.POST, prefix="lines", user=request.user)
        if not (form.is_valid() and lines.is_valid()):
            return self.page(form, lines, show_errors=True)
        data = form.cleaned_data
        try:
            order = sales_order_create(customer=data["customer"], ship_to=data["ship_to_obj"], lines=lines.specs,
                                       actor=request.user, external_ref=data["external_ref"].strip(),
                                       requested_date=data["requested_date"])
        except DomainError as error:
            _put_refusal(form, error)
            return self.page(form, lines, show_errors=True)
        if action != "create_confirm":
            messages.success(request, f"{order.number} is taken as a draft: confirm it to promise and allocate.")
        elif not request.user.has_perm("orders.change_salesorder"):
            messages.info(request, f"{order.number} is taken as a draft; your role may not confirm orders.")
        else:
            try:
                confirmed = sales_order_confirm(order=order, actor=request.user)
            except DomainError as error:
                messages.error(request, f"{order.number} is taken as a draft but was not confirmed: "
                                        f"{refusal(error)}")
            else:
                messages.success(request, _confirmed_message(confirmed))
        return redirect("orders:order-detail", pk=order.pk)

    def add_line(self) -> HttpResponse:
        """The form as typed with one more, empty, line (no validation yet: nothing is being submitted)."""
        data = with_one_more_line(self.request.POST, most=MAX_LINES)
        form = OrderEntryForm(data, user=self.request.user)
        lines = OrderLineFormSet(data, prefix="lines", user=self.request.user)
        if is_htmx_partial(self.request):
            return added_line_fragment(self.request, "orders/sales/_entry_lines.html", lines)
        return self.page(form, lines, focus_last=True)


def _put_refusal(form: OrderEntryForm, error: DomainError) -> None:
    """A service's refusal on the form: the message on top; field problems beside their fields."""
    form.add_error(None, error.message)
    detail = error.detail if isinstance(error.detail, dict) else {}
    if "external_ref" in detail and "order" in detail:  # duplicate_external_ref names the existing order
        form.add_error("external_ref", f"{detail['order']} already has the reference {detail['external_ref']}.")
        return
    for field, problems in detail.items():
        if not isinstance(problems, list):
            continue
        texts = [str(problem) for problem in problems if isinstance(problem, str)]
        if field in form.fields and field != "customer":
            form.add_error(field, texts)
        elif texts:
            form.add_error(None, texts)


class ShipToOptionsView(ScreenAccessMixin, TemplateView):
    """htmx: the ship-to choices of the customer just chosen, its default address selected (none for a customer
    outside the scope). The ``order-header-changed`` event it sends makes each line's preview read the new address."""

    permission_required = "orders.add_salesorder"
    template_name = "orders/sales/_ship_to_field.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        code = self.request.GET.get("customer", "").strip()[:32]
        customer = customers_for(self.request.user).filter(code=code).first() if code else None
        choices, default = ship_to_choices(customer)
        context.update(choices=choices, selected=default)
        return context

    def render_to_response(self, context: dict[str, Any], **response_kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **response_kwargs)
        response["HX-Trigger-After-Settle"] = "order-header-changed"
        return response


class LinePreviewView(ScreenAccessMixin, TemplateView):
    """htmx: one line's live preview, as it is typed: the SKU's available quantity at each warehouse the order
    may ship from (network-wide, as allocation reads it), and the warehouse and promised date the line would
    get if confirmed now. Anything incomplete or wrong is a hint in the preview, never an error."""

    permission_required = "orders.add_salesorder"
    template_name = "orders/sales/_line_preview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            context.update(self.preview())
        except DomainError as error:
            context["hint"] = refusal(error)
        return context

    def preview(self) -> dict[str, Any]:
        params = self.request.GET
        prefix = params.get("prefix", "")
        if not LINE_PREFIX.match(prefix):
            return {"hint": ""}
        sku = params.get(f"{prefix}-sku", "").strip()[:40]
        quantity_text = params.get(f"{prefix}-quantity", "").strip()[:40]
        uom = params.get(f"{prefix}-uom", "").strip().upper()[:16]
        if not sku:
            return {"hint": ""}
        items = scope_queryset(Item.objects.select_related("base_uom"), self.request.user)
        item = item_by_sku(items, sku)
        if item is None:
            # Searching as you type: the items whose SKU or name holds what was typed, to pick one.
            starts = Case(When(sku__istartswith=sku, then=Value(0)), default=Value(1))
            found = list(items.filter(Q(sku__icontains=sku) | Q(name__icontains=sku), active=True)
                         .order_by(starts, "sku")[:SUGGESTIONS])
            return {"hint": f"Unknown SKU: {sku}." + (" Did you mean:" if found else ""), "suggestions": found}
        customer = customers_for(self.request.user).filter(code=params.get("customer", "").strip()[:32]).first()
        ship_to_code = params.get("ship_to", "").strip()[:32]
        if customer is None:
            ship_to = None
        elif ship_to_code:
            ship_to = ShipTo.objects.select_related("region").filter(customer=customer, code=ship_to_code).first()
        else:
            ship_to = selectors.default_ship_to(customer)  # as taking the order would
        if customer is None or ship_to is None:
            return {"item": item, "hint": "Choose the customer and the ship-to address to see the promise."}
        try:
            quantity = Decimal(quantity_text or "1")
        except ArithmeticError:
            return {"item": item, "hint": "The quantity is not a number."}
        if not quantity.is_finite():
            return {"item": item, "hint": "The quantity is not a number."}
        try:
            requested = parse_date(params.get("requested_date", "")[:10])
        except ValueError:
            requested = None
        preview = selectors.sales_order_line_preview(customer=customer, ship_to=ship_to, item=item,
                                                     quantity=quantity, uom=uom or item.base_uom.code,
                                                     requested_date=requested)
        chosen = {warehouse.pk for warehouse, _ in preview.takes}
        return {
            "item": item, "preview": preview, "base": item.base_uom.code, "quantity": plain_number(preview.quantity),
            "assumed_quantity": not quantity_text, "backordered": plain_number(preview.backordered),
            "takes": [{"warehouse": w.code, "quantity": plain_number(q)} for w, q in preview.takes],
            "candidates": [{"warehouse": c.warehouse.code, "available": plain_number(c.available),
                            "promised_date": c.promised_date, "chosen": c.warehouse.pk in chosen}
                           for c in preview.candidates],
        }


urlpatterns: list[URLPattern] = [
    path("", OrderListView.as_view(), name="order-list"),
    path("new/", OrderEntryView.as_view(), name="order-new"),
    path("new/ship-tos/", ShipToOptionsView.as_view(), name="order-ship-tos"),
    path("new/preview/", LinePreviewView.as_view(), name="order-line-preview"),
    path("<int:pk>/", OrderDetailView.as_view(), name="order-detail"),
    path("<int:pk>/confirm/", OrderConfirmView.as_view(), name="order-confirm"),
    path("<int:pk>/cancel/", OrderCancelView.as_view(), name="order-cancel"),
]
