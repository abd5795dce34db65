"""Screens of buying: purchase orders (the list of the scope, an order's page with its approval trail, approved
revisions and receipts, the entry form for a draft, and its buttons by status and permission), requisitions (list,
page, form, buttons) and the buyer's workbench.

Every list and page reads through ``scope_queryset``: an order or requisition outside the user's scope is a 404, as
one that does not exist. Every write is a service of ``procurement.purchasing``; its refusal is a message on the
page (or on the form, beside its fields, with what was typed), never a server error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.forms import formset_factory
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views import View

from erp.confirm import ConfirmStepView
from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.scoping import scope_queryset
from erp.screens import (
    SEARCH_MAX_LENGTH,
    Column,
    ScreenAccessMixin,
    ScreenListView,
    added_line_fragment,
    is_htmx_partial,
    label_choices,
    model_choice_field,
    put_refusal,
    with_one_more_line,
)
from governance.audit import attach_shown_changes, audit_events_for, events_about
from governance.models import ApprovalRequest, ApprovalStatus, ApprovalStep
from governance.services.approvals import current_step
from inventory.line_forms import ItemLineForm, ItemLineFormSet
from inventory.models import Item, ItemUom
from inventory.selectors import items_by_sku
from procurement import rules
from procurement.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderRevision,
    PurchaseOrderStatus,
    PurchaseRequisition,
    PurchaseRequisitionLine,
    Receipt,
    ReceiptLine,
    RequisitionStatus,
    Supplier,
    SupplierItem,
)
from procurement.purchasing import (
    MAX_LINES,
    MAX_NOTE,
    OrderLineSpec,
    RequisitionLineSpec,
    purchase_order_cancel,
    purchase_order_close,
    purchase_order_create,
    purchase_order_duplicate,
    purchase_order_revise,
    purchase_order_send,
    purchase_order_submit,
    purchase_order_update,
    purchase_orders,
    requisition_cancel,
    requisition_create,
    requisition_order,
    requisition_submit,
)
from warehouses.models import Warehouse
from warehouses.selectors import warehouses_for

VIEW_ORDER = "procurement.view_purchaseorder"
BUY = "procurement.add_purchaseorder"
WORK_ORDER = "procurement.change_purchaseorder"
VIEW_REQUISITION = "procurement.view_purchaserequisition"
REQUEST = "procurement.add_purchaserequisition"
FULL_ORDER_NUMBER = re.compile(r"PO-\d{6,}", re.IGNORECASE)
FULL_REQUISITION_NUMBER = re.compile(r"PR-\d{6,}", re.IGNORECASE)
CANCELLABLE = ("draft", "pending_approval", "approved", "sent")
CLOSABLE = ("approved", "sent", "partially_received", "received")


def refusal(error: DomainError) -> str:
    """A service's refusal as one sentence: its message and the problems it names."""
    parts = [error.message]
    detail = error.detail if isinstance(error.detail, dict) else {}
    for value in detail.values():
        if isinstance(value, list):
            parts += [str(problem) for problem in value if isinstance(problem, str)]
    return " ".join(parts)


def _today_by_warehouse_q(prefix: str = "") -> Q:
    """``expected_date`` before today at the line's warehouse: one condition per time zone of the network."""
    now = timezone.now()
    condition = Q(pk__in=[])
    for zone in Warehouse.objects.order_by().values_list("timezone", flat=True).distinct():
        today = now.astimezone(ZoneInfo(zone)).date()
        condition |= Q(**{f"{prefix}warehouse__timezone": zone, f"{prefix}expected_date__lt": today})
    return condition


def late_lines() -> QuerySet[PurchaseOrderLine]:
    """Open lines of orders on order (approved, sent, partly received) expected before today at their warehouse."""
    return (PurchaseOrderLine.objects.filter(order__status__in=rules.ON_ORDER_STATUSES,
                                             quantity__gt=F("received_quantity"))
            .filter(_today_by_warehouse_q()))


def scoped_orders(user: Any) -> QuerySet[PurchaseOrder]:
    return scope_queryset(purchase_orders(), user)


def _order(user: Any, pk: int) -> PurchaseOrder:
    return get_object_or_404(scoped_orders(user).select_related("legal_entity", "approval_request__rule",
                                                                "copied_from"), pk=pk)


# --- the list of purchase orders ----------------------------------------------------------------------------------


class PurchaseOrderListView(ScreenListView[PurchaseOrder]):
    """The orders of the scope (by receiving warehouse), newest first; narrowed by status, warehouse, supplier and
    late lines; a whole number (``PO-000042``) finds exactly that order."""

    has_filters = True

    exact_number = FULL_ORDER_NUMBER

    model = PurchaseOrder
    permission_required = VIEW_ORDER
    template_name = "procurement/purchase_order_list.html"
    rows_template_name = "procurement/_purchase_order_rows.html"
    search_fields = ("number", "supplier_reference")
    search_placeholder = "Order number or supplier reference"
    title = "Purchase orders"
    columns = (
        Column("Order", "number", sort="number"),
        Column("Supplier", "supplier.code", sort="supplier__code"),
        Column("Warehouse", "warehouse.code", sort="warehouse__code"),
        Column("Status", "get_status_display", sort="status"),
        Column("Revision", "revision", sort="revision", css="num col-opt"),
        Column("Order date", "order_date", sort="order_date"),
        Column("Lines", "line_count", sort="line_count", css="num col-opt"),
        Column("Total", lambda o: f"{o.total} {o.currency}", sort="total", css="num"),
        Column("In entity currency", lambda o: "" if o.base_total is None else f"{o.base_total} {o.base_currency}",
               sort="base_total", css="num col-opt", key="base_total"),
    )

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def filters(self) -> dict[str, str]:
        status = self.filter_value("status")
        return {"status": status if status in PurchaseOrderStatus.values else "",
                "warehouse": self.filter_value("warehouse"), "supplier": self.filter_value("supplier"),
                "late": "1" if self.filter_value("late") in ("1", "on", "yes") else ""}

    def base_queryset(self) -> QuerySet[PurchaseOrder]:
        chosen = self.filters()
        queryset = purchase_orders().annotate(line_count=Count("lines"))
        if chosen["status"]:
            queryset = queryset.filter(status=chosen["status"])
        if chosen["warehouse"]:
            queryset = queryset.filter(warehouse__code=chosen["warehouse"])
        if chosen["supplier"]:
            queryset = queryset.filter(supplier__code=chosen["supplier"])
        if chosen["late"]:
            queryset = queryset.filter(Exists(late_lines().filter(order=OuterRef("pk"))))
        return queryset

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(filters=self.filters(), statuses=PurchaseOrderStatus.choices,
                       warehouses=list(warehouses_for(self.request.user).order_by("code")
                                       .values_list("code", flat=True)),
                       suppliers=list(Supplier.objects.order_by("code").values_list("code", flat=True)))
        return context


# --- an order's page ----------------------------------------------------------------------------------------------


def approval_context(approval: ApprovalRequest | None, user: Any) -> dict[str, Any]:
    """An approval request with its steps (the trail) and the step it waits for."""
    if approval is None:
        return {}
    steps = list(ApprovalStep.objects.filter(request=approval).select_related("decided_by", "on_behalf_of")
                 .order_by("sequence", "pk"))
    return {
        "approval": approval, "approval_steps": steps,
        "approval_step": current_step(approval) if approval.status == ApprovalStatus.PENDING else None,
        "approval_url": (reverse("governance:approval-detail", args=[approval.pk])
                         if user.has_perm("governance.view_approvalrequest") else ""),
    }


def order_actions(order: PurchaseOrder, user: Any) -> dict[str, bool]:
    """The buttons ``user`` gets on ``order``, by its status and the role (the order is in the scope already)."""
    buys, works = user.has_perm(BUY), user.has_perm(WORK_ORDER)
    return {
        "can_edit": order.status in rules.EDITABLE_STATUSES and buys,
        "can_submit": order.status == PurchaseOrderStatus.DRAFT and buys,
        "can_revise": order.status in rules.REVISABLE_STATUSES and works,
        "can_send": order.status == PurchaseOrderStatus.APPROVED and works,
        "can_cancel": order.status in CANCELLABLE and works,
        "can_close": order.status in CLOSABLE and works,
        "can_duplicate": buys,
        "can_receive": order.status in rules.RECEIVABLE_STATUSES and user.has_perm("procurement.add_receipt"),
    }


def _order_line_rows(lines: Iterable[PurchaseOrderLine], today: dt.date) -> list[dict[str, Any]]:
    rows = []
    for line in lines:
        open_quantity = line.open_quantity
        rows.append({
            "line": line, "base": line.item.base_uom.code, "ordered": plain_number(line.quantity),
            "entered": f"{plain_number(line.uom_quantity)} {line.uom_code}",
            "show_entered": line.uom_code != line.item.base_uom.code,
            "received": plain_number(line.received_quantity), "open": plain_number(open_quantity),
            "unit_price": plain_number(line.unit_price), "line_total": line.line_total,
            "late": open_quantity > 0 and line.expected_date < today,
            "moved": line.expected_date != line.promised_date,
        })
    return rows


def _receipts(order: PurchaseOrder) -> list[dict[str, Any]]:
    """The order's receipts, newest first, each with its lines (two queries)."""
    receipts = list(Receipt.objects.filter(purchase_order=order).select_related("received_by").order_by("-id"))
    by_receipt: dict[int, list[ReceiptLine]] = {}
    for line in (ReceiptLine.objects.filter(receipt__in=receipts)
                 .select_related("item", "lot", "location", "order_line", "over_allowed_by")
                 .order_by("receipt_id", "line_no")):
        by_receipt.setdefault(line.receipt_id, []).append(line)
    return [{"receipt": receipt, "lines": by_receipt.get(receipt.pk, [])} for receipt in receipts]


def _timeline(order: PurchaseOrder) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        {"key": "created", "label": "Raised", "at": order.created_at, "by": order.requested_by},
        {"key": "submitted", "label": "Submitted", "at": order.submitted_at},
        {"key": "approved", "label": "Approved", "at": order.approved_at},
        {"key": "sent", "label": "Sent", "at": order.sent_at},
        {"key": "received", "label": "Received", "at": order.received_at},
    ]
    if order.closed_at:
        steps.append({"key": "closed", "label": "Closed", "at": order.closed_at, "note": order.cancel_reason})
    if order.cancelled_at:
        steps.append({"key": "cancelled", "label": "Cancelled", "at": order.cancelled_at,
                      "note": order.cancel_reason})
    return steps


def order_history(order: PurchaseOrder, lines: list[PurchaseOrderLine], user: Any, *, limit: int = 50) -> list[Any]:
    """The audit events of the order (found by its number) and of its lines that ``user`` may read, newest first;
    each carries ``part`` for the shared history partial."""
    line_nos = {str(line.pk): line.line_no for line in lines}
    line_table = PurchaseOrderLine._meta.db_table
    events = list(audit_events_for(user).filter(
        events_about(order.number) | Q(table_name=line_table, row_id__in=list(line_nos)))
        .order_by("-occurred_at", "-id")[:limit])
    attach_shown_changes(events, user)
    for event in events:
        event.part = f"Line {line_nos.get(event.row_id, '?')}" if event.table_name == line_table else "Order"
    return events


class PurchaseOrderDetailView(ScreenAccessMixin, View):
    """One order: amounts in the supplier's and the entity's currency with the rate, its lines (ordered, received,
    open, expected), approval trail, approved revisions and receipts, with the buttons its status and the role
    allow."""

    permission_required = VIEW_ORDER
    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = _order(request.user, pk)
        lines = list(PurchaseOrderLine.objects.filter(order=order).select_related("item__base_uom")
                     .order_by("line_no"))
        today = timezone.now().astimezone(ZoneInfo(order.warehouse.timezone)).date()
        revisions = list(PurchaseOrderRevision.objects.filter(order=order).order_by("-revision"))
        requisitions = list(scoped_requisitions(request.user).filter(lines__order_line__order=order).distinct()
                            .order_by("pk"))
        show_history = request.user.has_perm("governance.view_auditevent")
        return render(request, "procurement/purchase_order_detail.html", {
            "order": order, "rows": _order_line_rows(lines, today), "timeline": _timeline(order),
            "show_history": show_history,
            "history": order_history(order, lines, request.user) if show_history else [],
            "revisions": revisions, "receipts": _receipts(order), "requisitions": requisitions,
            "rule": order.approval_request.rule if order.approval_request else None,
            **approval_context(order.approval_request, request.user), **order_actions(order, request.user),
        })


class _OrderPostView(ScreenAccessMixin, View):
    """A one-click action on an order (no confirm step: it undoes nothing)."""

    http_method_names = ["post"]

    def act(self, order: PurchaseOrder) -> tuple[PurchaseOrder, str]:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = _order(request.user, pk)
        try:
            done, said = self.act(order)
        except DomainError as error:
            messages.error(request, refusal(error))
            return redirect("procurement:purchase-order-detail", pk=order.pk)
        messages.success(request, said)
        return redirect("procurement:purchase-order-detail", pk=done.pk)


class PurchaseOrderSubmitView(_OrderPostView):
    """Submit a draft for approval (``purchase_order_submit``)."""

    permission_required = BUY

    def act(self, order: PurchaseOrder) -> tuple[PurchaseOrder, str]:
        done = purchase_order_submit(order=order, actor=self.request.user)
        return done, (f"{done.number} waits for approval: {done.total:,} {done.currency} "
                      f"({done.base_total:,} {done.base_currency}).")


class PurchaseOrderSendView(_OrderPostView):
    """Mark an approved order as sent to the supplier (``purchase_order_send``)."""

    permission_required = WORK_ORDER

    def act(self, order: PurchaseOrder) -> tuple[PurchaseOrder, str]:
        done = purchase_order_send(order=order, actor=self.request.user)
        return done, f"{done.number} is sent to {done.supplier.code}."


class PurchaseOrderDuplicateView(_OrderPostView):
    """A new draft with the order's supplier, warehouse and lines (``purchase_order_duplicate``)."""

    permission_required = BUY

    def act(self, order: PurchaseOrder) -> tuple[PurchaseOrder, str]:
        done = purchase_order_duplicate(order=order, actor=self.request.user)
        return done, f"{done.number} is a new draft copied from {order.number}: check it and submit it."


class _OrderConfirmView(ConfirmStepView[PurchaseOrder]):
    permission_required = WORK_ORDER

    def get_target(self, pk: int) -> PurchaseOrder:
        return _order(self.request.user, pk)

    def back_url(self, target: PurchaseOrder) -> str:
        return reverse("procurement:purchase-order-detail", args=[target.pk])

    def refusal(self, error: DomainError) -> str:
        return refusal(error)


class PurchaseOrderCancelView(_OrderConfirmView):
    """Cancel an order nothing was received on (``purchase_order_cancel``), with a reason."""

    button_label = "Cancel the order"
    back_label = "Keep the order"
    takes_reason = True
    reason_required = True

    def question(self, target: PurchaseOrder) -> str:
        return f"Cancel purchase order {target.number}?"

    def undoes(self, target: PurchaseOrder) -> list[str]:
        if target.status not in CANCELLABLE:
            return [f"{target.number} is {target.get_status_display().lower()}: it can no longer be cancelled."]
        said = [f"{target.number} to {target.supplier.code} for {target.warehouse.code} "
                f"({target.total:,} {target.currency}) is no longer on order: nothing of it will be received."]
        if target.status == PurchaseOrderStatus.PENDING_APPROVAL:
            said.append("Its approval request is withdrawn with it.")
        return said

    def perform(self, target: PurchaseOrder, reason: str) -> str:
        done = purchase_order_cancel(order=target, actor=self.request.user, reason=reason)
        return f"{done.number} is cancelled."


class PurchaseOrderCloseView(_OrderConfirmView):
    """Close an order that will receive no more (``purchase_order_close``)."""

    button_label = "Close the order"
    back_label = "Keep it open"
    takes_reason = True

    def question(self, target: PurchaseOrder) -> str:
        return f"Close purchase order {target.number}?"

    def undoes(self, target: PurchaseOrder) -> list[str]:
        if target.status not in CLOSABLE:
            return [f"{target.number} is {target.get_status_display().lower()}: it cannot be closed."]
        open_lines = [line for line in PurchaseOrderLine.objects.filter(order=target).select_related("item")
                      .order_by("line_no") if line.open_quantity > 0]
        return [f"Line {line.line_no}: {plain_number(line.open_quantity)} {line.item.sku} still open is no longer "
                f"on order." for line in open_lines] or [f"{target.number} receives nothing more."]

    def perform(self, target: PurchaseOrder, reason: str) -> str:
        done = purchase_order_close(order=target, actor=self.request.user, reason=reason)
        return f"{done.number} is closed."


class PurchaseOrderReviseView(_OrderConfirmView):
    """Take an order back to draft to change it (``purchase_order_revise``): its approval is withdrawn."""

    button_label = "Revise the order"
    back_label = "Leave it as it is"
    takes_reason = True

    def question(self, target: PurchaseOrder) -> str:
        return f"Revise purchase order {target.number}?"

    def undoes(self, target: PurchaseOrder) -> list[str]:
        if target.status not in rules.REVISABLE_STATUSES:
            return [f"{target.number} is {target.get_status_display().lower()}: it cannot be revised."]
        if target.status == PurchaseOrderStatus.PENDING_APPROVAL:
            return [f"The approval request of {target.number} is withdrawn; the order is a draft again."]
        return [f"{target.number} becomes revision {target.revision + 1}, a draft: it must be approved again before "
                f"anything is received. Revision {target.revision} stays on record."]

    def perform(self, target: PurchaseOrder, reason: str) -> str:
        done = purchase_order_revise(order=target, actor=self.request.user, reason=reason)
        return f"{done.number} is a draft again (revision {done.revision}): change it and submit it."

    def done_url(self, target: PurchaseOrder) -> str:
        return reverse("procurement:purchase-order-edit", args=[target.pk])


# --- the entry form -----------------------------------------------------------------------------------------------


class PurchaseOrderForm(forms.Form):
    """The header: supplier and receiving warehouse (in the user's scope), the supplier's reference and a note."""

    supplier = forms.ModelChoiceField(queryset=Supplier.objects.none(), to_field_name="code",
                                      empty_label="Choose the supplier")
    warehouse = forms.ModelChoiceField(label="Receiving warehouse", queryset=Warehouse.objects.none(),
                                       to_field_name="code", empty_label="Choose the warehouse")
    supplier_reference = forms.CharField(label="Supplier reference", max_length=64, required=False)
    note = forms.CharField(max_length=MAX_NOTE, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, user: Any, order: PurchaseOrder | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user, self.order = user, order
        model_choice_field(self, "supplier").queryset = Supplier.objects.filter(active=True).order_by("code")
        label_choices(self, "supplier", lambda s: f"{s.code} · {s.name} ({s.currency})")
        model_choice_field(self, "warehouse").queryset = warehouses_for(user).filter(active=True).order_by("code")
        label_choices(self, "warehouse", lambda w: f"{w.code} · {w.name}")
        if order is not None:  # a draft keeps its supplier and warehouse: a new one is a new order
            for name in ("supplier", "warehouse"):
                self.fields[name].disabled = True


class OrderLineForm(ItemLineForm):
    """One line as typed; a row left blank is skipped. Unit blank: the supplier's; price blank: the supplier's;
    expected date blank: the supplier's lead time."""

    unit_price = forms.DecimalField(label="Unit price", max_digits=18, decimal_places=6, required=False)
    expected_date = forms.DateField(label="Expected", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_more(self, data: dict[str, Any]) -> None:
        price = data.get("unit_price")
        if price is not None and price <= 0 and "unit_price" not in self.errors:
            self.add_error("unit_price", "Must be more than 0, or blank for the supplier's price.")


class BaseOrderLineFormSet(ItemLineFormSet[OrderLineForm]):
    """The lines: at least one; every SKU an active item (one query). The rest (the unit, which defaults to the
    supplier's, and the supplier's terms) is the service's to check."""

    document = "A purchase order"
    check_units = False

    def line_spec(self, form: OrderLineForm, item: Item, data: dict[str, Any]) -> OrderLineSpec:
        return OrderLineSpec(item=item, quantity=data["quantity"], uom=data["uom"],
                             unit_price=data.get("unit_price"), expected_date=data.get("expected_date"))


OrderLineFormSet: type[BaseOrderLineFormSet] = formset_factory(  # type: ignore[assignment]  # a subclass of formset=; the stub says BaseFormSet
    OrderLineForm, formset=BaseOrderLineFormSet, extra=0, min_num=1, max_num=MAX_LINES, absolute_max=MAX_LINES,
    validate_max=True)


def _line_initial(order: PurchaseOrder) -> list[dict[str, Any]]:
    return [{"sku": line.item.sku, "quantity": plain_number(line.uom_quantity), "uom": line.uom_code,
             "unit_price": plain_number(line.unit_price), "expected_date": line.expected_date}
            for line in PurchaseOrderLine.objects.filter(order=order).select_related("item").order_by("line_no")]


class PurchaseOrderEntryView(ScreenAccessMixin, View):
    """Raise a draft (``purchase_order_create``) or change one (``purchase_order_update``, ``pk``): the supplier,
    the receiving warehouse and the lines. *Add line* posts the form back with one more row (htmx swaps in the
    lines only); a refusal comes back on the form with what was typed, and nothing is written."""

    permission_required = BUY
    http_method_names = ["get", "post"]

    def draft(self, pk: int | None) -> PurchaseOrder | None:
        if pk is None:
            return None
        order = _order(self.request.user, pk)
        if order.status not in rules.EDITABLE_STATUSES:
            raise Http404("Only a draft is changed here.")
        return order

    def action_url(self, order: PurchaseOrder | None) -> str:
        return (reverse("procurement:purchase-order-edit", args=[order.pk]) if order
                else reverse("procurement:purchase-order-new"))

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        order = self.draft(pk)
        if order is not None:
            form = PurchaseOrderForm(user=request.user, order=order, initial={
                "supplier": order.supplier.code, "warehouse": order.warehouse.code,
                "supplier_reference": order.supplier_reference, "note": order.note})
            lines = OrderLineFormSet(prefix="lines", user=request.user, initial=_line_initial(order))
        else:
            initial = {name: request.GET.get(name, "").strip()[:32] for name in ("supplier", "warehouse")}
            form = PurchaseOrderForm(user=request.user, initial=initial)
            lines = OrderLineFormSet(prefix="lines", user=request.user)
        return self.page(form, lines, order)

    def page(self, form: PurchaseOrderForm, lines: BaseOrderLineFormSet, order: PurchaseOrder | None, *,
             show_errors: bool = False, focus_last: bool = False, status: int = 200) -> HttpResponse:
        response = render(self.request, "procurement/purchase_order_form.html", {
            "form": form, "lines": lines, "order": order, "show_errors": show_errors, "focus_last": focus_last,
            "action_url": self.action_url(order), "lookup_url": reverse("procurement:supplier-item-lookup"),
        }, status=status)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        order = self.draft(pk)
        if request.POST.get("action") == "add_line":
            data = with_one_more_line(request.POST, most=MAX_LINES)
            lines = OrderLineFormSet(data, prefix="lines", user=request.user)
            if is_htmx_partial(request):
                response = render(request, "procurement/_order_lines.html", {
                    "lines": lines, "show_errors": False, "focus_last": True,
                    "action_url": self.action_url(order), "lookup_url": reverse("procurement:supplier-item-lookup")})
                patch_vary_headers(response, ["HX-Request"])
                return response
            return self.page(PurchaseOrderForm(data, user=request.user, order=order, initial=self._fixed(order)),
                             lines, order, focus_last=True)
        form = PurchaseOrderForm(request.POST, user=request.user, order=order, initial=self._fixed(order))
        lines = OrderLineFormSet(request.POST, prefix="lines", user=request.user)
        if not (form.is_valid() and lines.is_valid()):
            return self.page(form, lines, order, show_errors=True, status=400)
        header = form.cleaned_data
        try:
            if order is None:
                done = purchase_order_create(supplier=header["supplier"], warehouse=header["warehouse"],
                                             lines=lines.specs, actor=request.user, note=header["note"].strip(),
                                             supplier_reference=header["supplier_reference"].strip())
                said = f"{done.number} is raised as a draft: submit it to have it approved."
            else:
                done = purchase_order_update(order=order, actor=request.user, lines=lines.specs,
                                             note=header["note"].strip(),
                                             supplier_reference=header["supplier_reference"].strip())
                said = f"{done.number} is changed."
        except DomainError as error:
            put_refusal(form, error)
            return self.page(form, lines, order, show_errors=True, status=error.status)
        messages.success(request, said)
        return redirect("procurement:purchase-order-detail", pk=done.pk)

    @staticmethod
    def _fixed(order: PurchaseOrder | None) -> dict[str, Any]:
        """A disabled field takes its initial value, never what was posted."""
        return {} if order is None else {"supplier": order.supplier.code, "warehouse": order.warehouse.code}


def _factor(item: Item, code: str) -> Decimal | None:
    return ItemUom.objects.filter(item=item, uom__code=code).values_list("factor", flat=True).first()


class SupplierItemLookupView(ScreenAccessMixin, View):
    """What the supplier sells of a SKU (htmx, beside a line of the entry form): price, unit, minimum order, pack,
    lead time, and the line's value at that price when its quantity is typed in that unit."""

    permission_required = BUY
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        index = request.GET.get("line", "").strip()
        prefix = f"lines-{index}-" if index.isdigit() and len(index) <= 4 else ""
        code = (request.GET.get("supplier", "") or request.GET.get("lookup_supplier", "")).strip()[:32]
        sku = request.GET.get(f"{prefix}sku", request.GET.get("sku", "")).strip()[:40]
        context: dict[str, Any] = {"sku": sku, "supplier_code": code}
        supplier = Supplier.objects.filter(code=code).first()
        item = items_by_sku(scope_queryset(Item.objects.select_related("base_uom"), request.user), [sku]).get(sku) \
            if sku else None
        if supplier is None:
            context["problem"] = "Choose the supplier first."
        elif item is None:
            context["problem"] = f"Unknown SKU: {sku}." if sku else ""
        else:
            offer = (SupplierItem.objects.filter(supplier=supplier, item=item).select_related("uom").first())
            if offer is None or not offer.active:
                context["problem"] = f"{supplier.code} does not sell {item.sku}."
            else:
                lead = offer.lead_time_days if offer.lead_time_days is not None else supplier.lead_time_days
                context.update(offer=offer, item=item, lead=lead, price=plain_number(offer.unit_price),
                               moq=plain_number(offer.min_order_quantity), pack=plain_number(offer.pack_multiple))
                raw_quantity = request.GET.get(f"{prefix}quantity", "").strip()
                unit = request.GET.get(f"{prefix}uom", "").strip().upper() or offer.uom.code
                try:
                    quantity = Decimal(raw_quantity) if raw_quantity else None
                except ArithmeticError:
                    quantity = None
                if quantity is not None and quantity.is_finite() and quantity > 0 and unit == offer.uom.code:
                    context["estimate"] = (quantity * offer.unit_price).quantize(Decimal("0.01"))
        response = render(request, "procurement/_supplier_item_lookup.html", context)
        patch_vary_headers(response, ["HX-Request"])
        return response


# --- requisitions ---------------------------------------------------------------------------------------------------


def scoped_requisitions(user: Any) -> QuerySet[PurchaseRequisition]:
    return scope_queryset(PurchaseRequisition.objects.select_related("warehouse", "requested_by"), user)


def _requisition(user: Any, pk: int) -> PurchaseRequisition:
    return get_object_or_404(scoped_requisitions(user).select_related("approval_request__rule"), pk=pk)


class RequisitionListView(ScreenListView[PurchaseRequisition]):
    """The requisitions of the scope, newest first; narrowed by status and warehouse; a whole number
    (``PR-000042``) finds exactly that requisition."""

    has_filters = True

    exact_number = FULL_REQUISITION_NUMBER

    model = PurchaseRequisition
    permission_required = VIEW_REQUISITION
    template_name = "procurement/requisition_list.html"
    rows_template_name = "procurement/_requisition_rows.html"
    search_fields = ("number", "note")
    search_placeholder = "Requisition number or note"
    title = "Requisitions"
    columns = (
        Column("Requisition", "number", sort="number"),
        Column("Warehouse", "warehouse.code", sort="warehouse__code"),
        Column("Status", "get_status_display", sort="status"),
        Column("Source", "get_source_display", sort="source", css="col-opt"),
        Column("Lines", "line_count", sort="line_count", css="num"),
        Column("Value", lambda r: "" if r.value is None else f"{r.value} {r.currency}", sort="value", css="num"),
        Column("Requested by", "requested_by.username", css="col-opt"),
    )

    def filters(self) -> dict[str, str]:
        status = self.request.GET.get("status", "").strip()
        return {"status": status if status in RequisitionStatus.values else "",
                "warehouse": self.request.GET.get("warehouse", "").strip()[:SEARCH_MAX_LENGTH]}

    def base_queryset(self) -> QuerySet[PurchaseRequisition]:
        chosen = self.filters()
        queryset = (PurchaseRequisition.objects.select_related("warehouse", "requested_by")
                    .annotate(line_count=Count("lines")).order_by("-id"))
        if chosen["status"]:
            queryset = queryset.filter(status=chosen["status"])
        if chosen["warehouse"]:
            queryset = queryset.filter(warehouse__code=chosen["warehouse"])
        return queryset

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(filters=self.filters(), statuses=RequisitionStatus.choices,
                       warehouses=list(warehouses_for(self.request.user).order_by("code")
                                       .values_list("code", flat=True)))
        return context


def requisition_actions(requisition: PurchaseRequisition, user: Any) -> dict[str, bool]:
    asks = user.has_perm(REQUEST)
    return {
        "can_submit": requisition.status == RequisitionStatus.DRAFT and asks,
        "can_cancel": requisition.status in ("draft", "submitted", "approved") and asks,
        "can_order": requisition.status == RequisitionStatus.APPROVED and user.has_perm(BUY),
    }


class RequisitionDetailView(ScreenAccessMixin, View):
    """One requisition: its lines (with the order line each became), approval trail and buttons."""

    permission_required = VIEW_REQUISITION
    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        requisition = _requisition(request.user, pk)
        lines = list(PurchaseRequisitionLine.objects.filter(requisition=requisition)
                     .select_related("item__base_uom", "supplier", "order_line__order").order_by("line_no"))
        rows = [{"line": line, "quantity": plain_number(line.quantity),
                 "entered": f"{plain_number(line.uom_quantity)} {line.uom_code}",
                 "show_entered": line.uom_code != line.item.base_uom.code} for line in lines]
        orders = sorted({line.order_line.order for line in lines if line.order_line}, key=lambda o: o.pk)
        return render(request, "procurement/requisition_detail.html", {
            "requisition": requisition, "rows": rows, "orders": orders,
            "rule": requisition.approval_request.rule if requisition.approval_request else None,
            **approval_context(requisition.approval_request, request.user),
            **requisition_actions(requisition, request.user),
        })


class RequisitionSubmitView(ScreenAccessMixin, View):
    permission_required = REQUEST
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        requisition = _requisition(request.user, pk)
        try:
            done = requisition_submit(requisition=requisition, actor=request.user)
        except DomainError as error:
            messages.error(request, refusal(error))
        else:
            messages.success(request, f"{done.number} waits for approval: {done.value:,} {done.currency}.")
        return redirect("procurement:requisition-detail", pk=requisition.pk)


class RequisitionOrderView(ScreenAccessMixin, View):
    """Turn an approved requisition into draft orders, one per supplier (``requisition_order``)."""

    permission_required = BUY
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        requisition = _requisition(request.user, pk)
        try:
            orders = requisition_order(requisition=requisition, actor=request.user)
        except DomainError as error:
            messages.error(request, refusal(error))
            return redirect("procurement:requisition-detail", pk=requisition.pk)
        messages.success(request, f"{requisition.number} is ordered: {', '.join(o.number for o in orders)} "
                                  f"{'is a draft' if len(orders) == 1 else 'are drafts'} to check and submit.")
        if len(orders) == 1:
            return redirect("procurement:purchase-order-detail", pk=orders[0].pk)
        return redirect("procurement:requisition-detail", pk=requisition.pk)


class RequisitionCancelView(ConfirmStepView[PurchaseRequisition]):
    permission_required = REQUEST
    button_label = "Cancel the requisition"
    back_label = "Keep the requisition"

    def get_target(self, pk: int) -> PurchaseRequisition:
        return _requisition(self.request.user, pk)

    def question(self, target: PurchaseRequisition) -> str:
        return f"Cancel requisition {target.number}?"

    def undoes(self, target: PurchaseRequisition) -> list[str]:
        if target.status not in ("draft", "submitted", "approved"):
            return [f"{target.number} is {target.get_status_display().lower()}: it can no longer be cancelled."]
        said = [f"{target.number} for {target.warehouse.code} will not be ordered."]
        if target.status == RequisitionStatus.SUBMITTED:
            said.append("Its approval request is withdrawn with it.")
        return said

    def back_url(self, target: PurchaseRequisition) -> str:
        return reverse("procurement:requisition-detail", args=[target.pk])

    def refusal(self, error: DomainError) -> str:
        return refusal(error)

    def perform(self, target: PurchaseRequisition, reason: str) -> str:
        done = requisition_cancel(requisition=target, actor=self.request.user)
        return f"{done.number} is cancelled."


class RequisitionForm(forms.Form):
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), to_field_name="code",
                                       empty_label="Choose the warehouse")
    note = forms.CharField(max_length=MAX_NOTE, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice_field(self, "warehouse").queryset = warehouses_for(user).filter(active=True).order_by("code")
        label_choices(self, "warehouse", lambda w: f"{w.code} · {w.name}")


class RequisitionLineForm(ItemLineForm):
    needed_by = forms.DateField(label="Needed by", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    supplier = forms.CharField(label="Supplier", max_length=32, required=False)

    def clean_more(self, data: dict[str, Any]) -> None:
        data["supplier"] = (data.get("supplier") or "").strip().upper()
        if "needed_by" not in self.errors and data.get("needed_by") is None:
            self.add_error("needed_by", "Give the date it is needed by.")


class BaseRequisitionLineFormSet(ItemLineFormSet[RequisitionLineForm]):
    """The lines: at least one; every SKU an active item, every supplier named one that exists (two queries); the
    unit and whether the supplier sells the SKU are the service's to check."""

    document = "A requisition"
    check_units = False

    def prepare(self, typed: list[RequisitionLineForm], items: dict[str, Item]) -> None:
        self.suppliers = {s.code: s for s in Supplier.objects.filter(
            code__in={form.cleaned_data["supplier"] for form in typed if form.cleaned_data["supplier"]})}

    def line_spec(self, form: RequisitionLineForm, item: Item, data: dict[str, Any]) -> RequisitionLineSpec | None:
        supplier = self.suppliers.get(data["supplier"]) if data["supplier"] else None
        if data["supplier"] and supplier is None:
            form.add_error("supplier", f"No supplier {data['supplier']}.")
            return None
        return RequisitionLineSpec(item=item, quantity=data["quantity"], needed_by=data["needed_by"],
                                   uom=data["uom"], supplier=supplier)


RequisitionLineFormSet: type[BaseRequisitionLineFormSet] = formset_factory(  # type: ignore[assignment]  # a subclass of formset=; the stub says BaseFormSet
    RequisitionLineForm, formset=BaseRequisitionLineFormSet, extra=0, min_num=1, max_num=MAX_LINES,
    absolute_max=MAX_LINES, validate_max=True)


class RequisitionEntryView(ScreenAccessMixin, View):
    """Raise a requisition as a draft (``requisition_create``): the warehouse and the lines; *Add line* as on the
    order form."""

    permission_required = REQUEST
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(RequisitionForm(user=request.user), RequisitionLineFormSet(prefix="lines", user=request.user))

    def page(self, form: RequisitionForm, lines: BaseRequisitionLineFormSet, *, show_errors: bool = False,
             focus_last: bool = False, status: int = 200) -> HttpResponse:
        response = render(self.request, "procurement/requisition_form.html",
                          {"form": form, "lines": lines, "show_errors": show_errors, "focus_last": focus_last},
                          status=status)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") == "add_line":
            data = with_one_more_line(request.POST, most=MAX_LINES)
            lines = RequisitionLineFormSet(data, prefix="lines", user=request.user)
            if is_htmx_partial(request):
                return added_line_fragment(request, "procurement/_requisition_lines.html", lines)
            return self.page(RequisitionForm(data, user=request.user), lines, focus_last=True)
        form = RequisitionForm(request.POST, user=request.user)
        lines = RequisitionLineFormSet(request.POST, prefix="lines", user=request.user)
        if not (form.is_valid() and lines.is_valid()):
            return self.page(form, lines, show_errors=True, status=400)
        try:
            done = requisition_create(warehouse=form.cleaned_data["warehouse"], lines=lines.specs,
                                      actor=request.user, note=form.cleaned_data["note"].strip())
        except DomainError as error:
            put_refusal(form, error)
            return self.page(form, lines, show_errors=True, status=error.status)
        messages.success(request, f"{done.number} is raised as a draft: submit it to have it approved.")
        return redirect("procurement:requisition-detail", pk=done.pk)


# --- the buyer's workbench ------------------------------------------------------------------------------------------

WORKBENCH_ROWS = 50


class BuyerWorkbenchView(ScreenAccessMixin, View):
    """What a buyer works on, in the scope: approved requisitions waiting to be ordered, orders counted by status
    (each a link to the list), and late lines (open, expected before today at their warehouse)."""

    permission_required = BUY
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        waiting = list(scoped_requisitions(user).filter(status=RequisitionStatus.APPROVED)
                       .annotate(line_count=Count("lines")).order_by("decided_at", "pk")[:WORKBENCH_ROWS])
        counted = dict(scoped_orders(user).order_by().values_list("status").annotate(n=Count("pk")))
        list_url = reverse("procurement:purchase-order-list")
        by_status = [{"status": value, "label": label, "count": counted.get(value, 0),
                      "url": f"{list_url}?status={value}"} for value, label in PurchaseOrderStatus.choices]
        late = list(scope_queryset(late_lines(), user).select_related("order__supplier", "warehouse",
                                                                      "item__base_uom")
                    .order_by("expected_date", "order_id", "line_no")[:WORKBENCH_ROWS])
        late_rows = [{"line": line, "open": plain_number(line.open_quantity),
                      "ordered": plain_number(line.quantity)} for line in late]
        return render(request, "procurement/workbench.html", {
            "waiting": waiting, "by_status": by_status, "late": late_rows, "late_url": f"{list_url}?late=1",
        })


urlpatterns: list[URLPattern] = [
    path("purchase-orders/", PurchaseOrderListView.as_view(), name="purchase-order-list"),
    path("purchase-orders/new/", PurchaseOrderEntryView.as_view(), name="purchase-order-new"),
    path("purchase-orders/supplier-item/", SupplierItemLookupView.as_view(), name="supplier-item-lookup"),
    path("purchase-orders/workbench/", BuyerWorkbenchView.as_view(), name="buyer-workbench"),
    path("purchase-orders/<int:pk>/", PurchaseOrderDetailView.as_view(), name="purchase-order-detail"),
    path("purchase-orders/<int:pk>/edit/", PurchaseOrderEntryView.as_view(), name="purchase-order-edit"),
    path("purchase-orders/<int:pk>/submit/", PurchaseOrderSubmitView.as_view(), name="purchase-order-submit"),
    path("purchase-orders/<int:pk>/revise/", PurchaseOrderReviseView.as_view(), name="purchase-order-revise"),
    path("purchase-orders/<int:pk>/send/", PurchaseOrderSendView.as_view(), name="purchase-order-send"),
    path("purchase-orders/<int:pk>/cancel/", PurchaseOrderCancelView.as_view(), name="purchase-order-cancel"),
    path("purchase-orders/<int:pk>/close/", PurchaseOrderCloseView.as_view(), name="purchase-order-close"),
    path("purchase-orders/<int:pk>/duplicate/", PurchaseOrderDuplicateView.as_view(),
         name="purchase-order-duplicate"),
    path("requisitions/", RequisitionListView.as_view(), name="requisition-list"),
    path("requisitions/new/", RequisitionEntryView.as_view(), name="requisition-new"),
    path("requisitions/<int:pk>/", RequisitionDetailView.as_view(), name="requisition-detail"),
    path("requisitions/<int:pk>/submit/", RequisitionSubmitView.as_view(), name="requisition-submit"),
    path("requisitions/<int:pk>/cancel/", RequisitionCancelView.as_view(), name="requisition-cancel"),
    path("requisitions/<int:pk>/order/", RequisitionOrderView.as_view(), name="requisition-order"),
]
