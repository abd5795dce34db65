"""Screens of transfers between warehouses: the list of the scope, a transfer's page (lines, dispatched parts,
timeline with its approval, history and open exceptions; Submit, Cancel, Dispatch, Receive by state and
permission), the request form, and the two handheld screens: dispatch at the source and receipt at the target.

A transfer is seen at either of its warehouses (``scope_queryset``); one outside the scope is a 404, as one that
does not exist. Dispatching needs the source in the user's scope, receiving the target: a transfer seen from the
other end is read-only there (403). On the handhelds each line's answer is kept in the session until one Confirm
sends them all to the service (``transfer_dispatch``, ``transfer_receive``), so a wrong scan is an error on its
field (the step shown again, 200, as on the pick list) and nothing moves. Every refusal of a service is a
message on the page, never a server error; the request form answers 400 with its errors beside their fields.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, QuerySet
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views import View

from erp.confirm import ConfirmStepView
from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.scoping import scope_of, scope_queryset
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
from governance.models import ApprovalStatus, ApprovalStep
from governance.services.approvals import current_step
from inventory.line_forms import ItemLineForm, ItemLineFormSet
from inventory.models import Item, Lot, StockBalance
from inventory.views import ScanFormMixin
from warehouses.models import Warehouse
from warehouses.transfers import rules
from warehouses.transfers.models import Transfer, TransferLine, TransferLineLot, TransferStatus, TransferWriteOff
from warehouses.transfers.services import (
    MAX_LINES,
    MAX_NOTE,
    NOT_PICKABLE,
    DispatchSpec,
    ReceiveSpec,
    TransferLineSpec,
    transfer_cancel,
    transfer_create,
    transfer_dispatch,
    transfer_receive,
    transfer_submit,
    transfers,
)

DISPATCH_SESSION = "transfer_dispatch"
RECEIVE_SESSION = "transfer_receive"
CANCELLABLE = (TransferStatus.DRAFT, TransferStatus.PENDING_APPROVAL, TransferStatus.APPROVED)
FULL_NUMBER = re.compile(r"TR-\d{6,}", re.IGNORECASE)
RECEIPT_LABELS = {"available": "Available", "quality_hold": "Quality hold", "damaged": "Damaged"}


def refusal(error: DomainError) -> str:
    """A service's refusal as one sentence: its message and the problems it names."""
    parts = [error.message]
    detail = error.detail if isinstance(error.detail, dict) else {}
    for value in detail.values():
        if isinstance(value, list):
            parts += [str(problem) for problem in value if isinstance(problem, str)]
    return " ".join(parts)


def scoped_transfers(user: Any) -> QuerySet[Transfer]:
    return scope_queryset(transfers(), user)


def _transfer(user: Any, pk: int) -> Transfer:
    return get_object_or_404(scoped_transfers(user), pk=pk)


def _lines(transfer: Transfer) -> list[TransferLine]:
    return list(TransferLine.objects.filter(transfer=transfer).select_related("item__base_uom", "lot")
                .order_by("line_no"))


# --- the list -------------------------------------------------------------------------------------------------


class TransferListView(ScreenListView[Transfer]):
    """The transfers of the scope (seen at either warehouse), newest first; narrowed by status and by the
    warehouse they leave or reach, searchable by number (an exception's cause link opens one this way)."""

    has_filters = True

    exact_number = FULL_NUMBER

    model = Transfer
    permission_required = "transfers.view_transfer"
    template_name = "transfers/transfer_list.html"
    rows_template_name = "transfers/_transfer_rows.html"
    search_fields = ("number",)
    search_placeholder = "Transfer number"
    title = "Transfers"
    columns = (
        Column("Transfer", "number", sort="number"),
        Column("From", "from_warehouse.code", sort="from_warehouse__code"),
        Column("To", "to_warehouse.code", sort="to_warehouse__code"),
        Column("Status", "get_status_display", sort="status"),
        Column("Requested", "requested_date", sort="requested_date"),
        Column("Expected arrival", "expected_arrival", sort="expected_arrival"),
        Column("Lines", "line_count", sort="line_count", css="num"),
        Column("Value", lambda t: "" if t.value is None else f"{t.value} {t.currency}", sort="value",
               css="num col-opt"),
    )

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def filters(self) -> dict[str, str]:
        status = self.filter_value("status")
        return {"status": status if status in TransferStatus.values else "",
                "from": self.filter_value("from"), "to": self.filter_value("to")}

    def base_queryset(self) -> QuerySet[Transfer]:
        chosen = self.filters()
        queryset = transfers().annotate(line_count=Count("lines"))
        if chosen["status"]:
            queryset = queryset.filter(status=chosen["status"])
        if chosen["from"]:
            queryset = queryset.filter(from_warehouse__code=chosen["from"])
        if chosen["to"]:
            queryset = queryset.filter(to_warehouse__code=chosen["to"])
        return queryset

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # The warehouses the scope's transfers leave or reach: a transfer's other end may be outside the scope.
        ends = scoped_transfers(self.request.user).order_by()
        codes = set(ends.values_list("from_warehouse__code", flat=True).distinct()) | set(
            ends.values_list("to_warehouse__code", flat=True).distinct())
        context.update(filters=self.filters(), statuses=TransferStatus.choices, warehouses=sorted(codes))
        return context


# --- a transfer's page -------------------------------------------------------------------------------------


def _line_rows(lines: list[TransferLine], parts: dict[int, list[TransferLineLot]]) -> list[dict[str, Any]]:
    rows = []
    for line in lines:
        rows.append({
            "line": line, "base": line.item.base_uom.code, "quantity": plain_number(line.quantity),
            "entered": f"{plain_number(line.uom_quantity)} {line.uom_code}",
            "show_entered": line.uom_code != line.item.base_uom.code,
            "dispatched": plain_number(line.dispatched_quantity), "received": plain_number(line.received_quantity),
            "in_transit": plain_number(max(line.in_transit, Decimal(0))),
            "damaged": plain_number(line.damaged_quantity), "over": plain_number(line.over_quantity),
            "parts": [{"part": part, "quantity": plain_number(part.dispatched_quantity),
                       "received": plain_number(part.received_quantity),
                       "in_transit": plain_number(part.in_transit), "unit_cost": plain_number(part.unit_cost),
                       "source_unit_cost": plain_number(part.source_unit_cost), "rate": plain_number(part.rate)}
                      for part in parts.get(line.pk, [])],
        })
    return rows


def _timeline(transfer: Transfer) -> list[dict[str, Any]]:
    """What happened to the transfer, in order: each step with its time (None: not yet)."""
    steps: list[dict[str, Any]] = [
        {"key": "requested", "label": "Requested", "at": transfer.created_at, "by": transfer.requested_by},
        {"key": "submitted", "label": "Submitted", "at": transfer.submitted_at, "by": None},
        {"key": "approved", "label": "Approved", "at": transfer.approved_at, "by": None},
        {"key": "dispatched", "label": "Dispatched", "at": transfer.dispatched_at, "by": transfer.dispatched_by},
    ]
    if transfer.status == TransferStatus.CANCELLED:
        steps.append({"key": "cancelled", "label": "Cancelled", "at": transfer.cancelled_at, "by": None,
                      "note": transfer.cancel_reason})
    else:
        steps.append({"key": "received", "label": "Received", "at": transfer.received_at, "by": None})
    return steps


def _approval(transfer: Transfer, user: Any) -> dict[str, Any]:
    """The transfer's approval request with its steps (the trail) and the step it waits for."""
    approval = transfer.approval_request
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


def transfer_history(transfer: Transfer, lines: list[TransferLine], user: Any, *, limit: int = 50) -> list[Any]:
    """The audit events of the transfer (found by its number) and of its lines that ``user`` may read, newest
    first; each carries ``part`` for the shared history partial."""
    line_nos = {str(line.pk): line.line_no for line in lines}
    line_table = TransferLine._meta.db_table
    events = list(audit_events_for(user).filter(
        events_about(transfer.number) | Q(table_name=line_table, row_id__in=list(line_nos)))
        .order_by("-occurred_at", "-id")[:limit])
    attach_shown_changes(events, user)
    for event in events:
        event.part = f"Line {line_nos[event.row_id]}" if event.table_name == line_table else "Transfer"
    return events


def transfer_actions(transfer: Transfer, user: Any) -> dict[str, bool]:
    """The buttons ``user`` gets on ``transfer``: by its state, the role, and which end is in the scope."""
    scope = scope_of(user)
    works = user.has_perm("transfers.change_transfer")
    return {
        "can_submit": transfer.status == TransferStatus.DRAFT and user.has_perm("transfers.add_transfer"),
        "can_cancel": transfer.status in CANCELLABLE and user.has_perm("transfers.add_transfer"),
        "can_dispatch": transfer.status == TransferStatus.APPROVED and works
        and scope.covers_warehouse(transfer.from_warehouse_id),
        "can_receive": transfer.status in rules.RECEIVABLE_STATUSES and works
        and scope.covers_warehouse(transfer.to_warehouse_id),
        # Either end in scope (the transfer is found in it); something still in transit (checked by the page).
        "can_write_off": transfer.status in rules.IN_TRANSIT_STATUSES and works,
    }


def transfer_write_offs(transfer: Transfer, user: Any) -> list[dict[str, Any]]:
    """The write-offs asked on ``transfer``, newest first, each with its lines and approval link (two queries)."""
    may_open = user.has_perm("governance.view_approvalrequest")
    return [{"write_off": write_off,
             "lines": [f"Line {row.line.line_no}: {plain_number(row.quantity)} {row.line.item.sku}"
                       for row in write_off.lines.all()],
             "approval_url": reverse("governance:approval-detail", args=[write_off.approval_request_id])
             if may_open and write_off.approval_request_id else ""}
            for write_off in TransferWriteOff.objects.filter(transfer=transfer).select_related("approval_request")
            .prefetch_related("lines__line__item").order_by("-id")]


class TransferDetailView(ScreenAccessMixin, View):
    """One transfer: its facts, lines, dispatched parts, timeline with the approval trail, history and the open
    exceptions about it, with the buttons the user's role and scope allow."""

    permission_required = "transfers.view_transfer"
    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = _transfer(request.user, pk)
        lines = _lines(transfer)
        parts: dict[int, list[TransferLineLot]] = {}
        for part in TransferLineLot.objects.filter(transfer=transfer).select_related("lot").order_by("line_id", "id"):
            parts.setdefault(part.line_id, []).append(part)
        show_history = request.user.has_perm("governance.view_auditevent")
        actions = transfer_actions(transfer, request.user)
        actions["can_write_off"] = actions["can_write_off"] and any(line.in_transit > 0 for line in lines)
        return render(request, "transfers/transfer_detail.html", {
            "transfer": transfer, "rows": _line_rows(lines, parts), "timeline": _timeline(transfer),
            "write_offs": transfer_write_offs(transfer, request.user),
            "has_parts": bool(parts), "show_history": show_history,
            "history": transfer_history(transfer, lines, request.user) if show_history else [],
            **_approval(transfer, request.user), **actions,
        })


class TransferSubmitView(ScreenAccessMixin, View):
    """Submit a draft (``transfer_submit``): approved at once at or below the threshold, else for approval."""

    permission_required = "transfers.add_transfer"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = _transfer(request.user, pk)
        try:
            done = transfer_submit(transfer=transfer, actor=request.user)
        except DomainError as error:
            messages.error(request, refusal(error))
        else:
            if done.status == TransferStatus.APPROVED:
                messages.success(request, f"{done.number} is approved: {done.from_warehouse.code} may dispatch it.")
            else:
                messages.info(request, f"{done.number} waits for approval: {done.value} {done.currency} at cost "
                                       f"is above the threshold.")
        return redirect("transfers:transfer-detail", pk=transfer.pk)


class TransferCancelView(ConfirmStepView[Transfer]):
    """Cancel a transfer nothing has left for (``transfer_cancel``) through the confirm step; the reason is kept."""

    permission_required = "transfers.add_transfer"
    button_label = "Cancel the transfer"
    back_label = "Keep the transfer"
    takes_reason = True

    def get_target(self, pk: int) -> Transfer:
        return _transfer(self.request.user, pk)

    def question(self, target: Transfer) -> str:
        return f"Cancel transfer {target.number}?"

    def undoes(self, target: Transfer) -> list[str]:
        if target.status not in CANCELLABLE:
            return [f"{target.number} is {target.get_status_display().lower()}: it can no longer be cancelled."]
        said = [f"{target.number} from {target.from_warehouse.code} to {target.to_warehouse.code} will not be "
                f"dispatched: nothing of it moves."]
        said += [f"Line {line.line_no}: {plain_number(line.quantity)} {line.item.base_uom.code} {line.item.sku}"
                 f"{' lot ' + line.lot.lot_number if line.lot else ''} is no longer requested."
                 for line in _lines(target)]
        if target.status == TransferStatus.PENDING_APPROVAL and target.approval_request_id:
            said.append("Its approval request is cancelled with it; the approvers waiting on it are told.")
        return said

    def back_url(self, target: Transfer) -> str:
        return reverse("transfers:transfer-detail", args=[target.pk])

    def refusal(self, error: DomainError) -> str:
        return refusal(error)

    def perform(self, target: Transfer, reason: str) -> str:
        cancelled = transfer_cancel(transfer=target, actor=self.request.user, reason=reason)
        return f"{cancelled.number} is cancelled."


# --- requesting a transfer ---------------------------------------------------------------------------------


class TransferRequestForm(forms.Form):
    """The header: the two warehouses (one in the user's scope), the date wanted and a note."""

    from_warehouse = forms.ModelChoiceField(label="From", queryset=Warehouse.objects.none(), to_field_name="code",
                                            empty_label="Choose the sending warehouse")
    to_warehouse = forms.ModelChoiceField(label="To", queryset=Warehouse.objects.none(), to_field_name="code",
                                          empty_label="Choose the receiving warehouse")
    requested_date = forms.DateField(label="Requested date", required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}),
                                     help_text="When it should leave; today at the source when left out.")
    note = forms.CharField(max_length=MAX_NOTE, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        for name in ("from_warehouse", "to_warehouse"):
            model_choice_field(self, name).queryset = Warehouse.objects.filter(active=True).order_by("code")
            label_choices(self, name, lambda w: f"{w.code} · {w.name}")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        source, target = data.get("from_warehouse"), data.get("to_warehouse")
        if source is not None and target is not None:
            scope = scope_of(self.user)
            if source.pk == target.pk:
                self.add_error("to_warehouse", "Choose another warehouse than the one it leaves.")
            elif not (scope.covers_warehouse(source.pk) or scope.covers_warehouse(target.pk)):
                self.add_error(None, f"Neither {source.code} nor {target.code} is in your scope: one end of the "
                                     f"transfer must be.")
        return data


class TransferLineForm(ItemLineForm):
    """One line as typed; a row left blank is skipped. The unit defaults to the item's base unit."""

    lot = forms.CharField(max_length=64, required=False)

    def clean_more(self, data: dict[str, Any]) -> None:
        data["lot"] = (data.get("lot") or "").strip()


class BaseTransferLineFormSet(ItemLineFormSet[TransferLineForm]):
    """The lines: at least one; every SKU an active item, every unit one of the item's, every lot the item's
    (three queries)."""

    document = "A transfer"

    def prepare(self, typed: list[TransferLineForm], items: dict[str, Item]) -> None:
        self.lots = set(Lot.objects.filter(item__in=items.values(),
                                           lot_number__in={form.cleaned_data["lot"] for form in typed})
                        .values_list("item_id", "lot_number"))

    def line_spec(self, form: TransferLineForm, item: Item, data: dict[str, Any]) -> TransferLineSpec | None:
        if data["lot"] and not item.lot_tracked:
            form.add_error("lot", f"{item.sku} is not lot-tracked: leave the lot empty.")
            return None
        if data["lot"] and (item.pk, data["lot"]) not in self.lots:
            form.add_error("lot", f"{item.sku} has no lot {data['lot']}.")
            return None
        return TransferLineSpec(item=item, quantity=data["quantity"], uom=data["uom"], lot_number=data["lot"] or None)


TransferLineFormSet: type[BaseTransferLineFormSet] = formset_factory(  # type: ignore[assignment]  # a subclass of formset=; the stub says BaseFormSet
    TransferLineForm, formset=BaseTransferLineFormSet, extra=0, min_num=1, max_num=MAX_LINES,
    absolute_max=MAX_LINES, validate_max=True)


class TransferRequestView(ScreenAccessMixin, View):
    """Request a transfer as a draft (``transfer_create``): the two warehouses, the date, a note and the lines.
    *Add line* posts the form back with one more row (htmx swaps in the lines only). A refusal comes back on the
    form with what was typed, and nothing is written."""

    permission_required = "transfers.add_transfer"
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {name: request.GET.get(name, "").strip()[:32] for name in ("from_warehouse", "to_warehouse")}
        form = TransferRequestForm(user=request.user, initial=initial)
        return self.page(form, TransferLineFormSet(prefix="lines", user=request.user))

    def page(self, form: TransferRequestForm, lines: BaseTransferLineFormSet, *, show_errors: bool = False,
             focus_last: bool = False, status: int = 200) -> HttpResponse:
        response = render(self.request, "transfers/transfer_request.html",
                          {"form": form, "lines": lines, "show_errors": show_errors, "focus_last": focus_last},
                          status=status)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") == "add_line":
            return self.add_line()
        form = TransferRequestForm(request.POST, user=request.user)
        lines = TransferLineFormSet(request.POST, prefix="lines", user=request.user)
        if not (form.is_valid() and lines.is_valid()):
            return self.page(form, lines, show_errors=True, status=400)
        data = form.cleaned_data
        try:
            transfer = transfer_create(from_warehouse=data["from_warehouse"], to_warehouse=data["to_warehouse"],
                                       lines=lines.specs, actor=request.user,
                                       requested_date=data["requested_date"], note=data["note"].strip())
        except DomainError as error:
            put_refusal(form, error)
            return self.page(form, lines, show_errors=True, status=error.status)
        messages.success(request, f"{transfer.number} is requested as a draft: submit it to have it approved.")
        return redirect("transfers:transfer-detail", pk=transfer.pk)

    def add_line(self) -> HttpResponse:
        """The form as typed with one more, empty, line (no validation yet: nothing is being submitted)."""
        data = with_one_more_line(self.request.POST, most=MAX_LINES)
        form = TransferRequestForm(data, user=self.request.user)
        lines = TransferLineFormSet(data, prefix="lines", user=self.request.user)
        if is_htmx_partial(self.request):
            return added_line_fragment(self.request, "transfers/_request_lines.html", lines)
        return self.page(form, lines, focus_last=True)


# --- the handhelds: what is kept between scans -----------------------------------------------------------------


def _kept(request: HttpRequest, key: str, transfer: Transfer) -> Any:
    return request.session.get(key, {}).get(str(transfer.pk))


def _keep(request: HttpRequest, key: str, transfer: Transfer, answers: Any) -> None:
    kept = dict(request.session.get(key, {}))
    if answers is None:
        kept.pop(str(transfer.pk), None)
    else:
        kept[str(transfer.pk)] = answers
    request.session[key] = kept


def _line_no(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def _line_asked(transfer: Transfer, raw: str) -> TransferLine | None:
    """The transfer's line whose number a handheld sent (``?line=`` to open it, the step's ``line`` field to answer
    it); None for a number that is not well formed or not on the transfer."""
    wanted = _line_no(raw)
    if wanted is None:
        return None
    return next((line for line in _lines(transfer) if line.line_no == wanted), None)


class HandheldMixin(ScreenAccessMixin):
    """A transfer of the scope whose end (``end``: from or to) the user works at; the other end's is 403."""

    request: HttpRequest
    permission_required = "transfers.change_transfer"
    end = "from_warehouse"

    def get_transfer(self, pk: int) -> Transfer:
        transfer = _transfer(self.request.user, pk)
        warehouse: Warehouse = getattr(transfer, self.end)
        if not scope_of(self.request.user).covers_warehouse(warehouse.pk):
            raise PermissionDenied(f"{warehouse.code} is not in your scope.")
        return transfer


# --- dispatching on a handheld -----------------------------------------------------------------------------


def suggested_locations(transfer: Transfer, lines: list[TransferLine]) -> dict[int, StockBalance]:
    """Per line, where the source holds its stock: the first available balance (never a transit or quarantine
    location, never an expired lot unless the line asks for it) in the dispatch's pick order, first expiry
    first, then by location path (one query)."""
    rows = (StockBalance.objects.select_related("location", "lot")
            .filter(warehouse_id=transfer.from_warehouse_id, item_id__in={line.item_id for line in lines},
                    status__code="available", on_hand__gt=0)
            .exclude(location__kind__in=NOT_PICKABLE)
            .order_by("item_id", F("lot__expiry_date").asc(nulls_last=True), "location__path", "lot_id"))
    by_item: dict[int, list[StockBalance]] = {}
    for row in rows:
        by_item.setdefault(row.item_id, []).append(row)
    today = timezone.now().astimezone(ZoneInfo(transfer.from_warehouse.timezone)).date()
    found: dict[int, StockBalance] = {}
    for line in lines:
        for row in by_item.get(line.item_id, []):
            if line.lot_id is not None:
                if row.lot_id == line.lot_id:
                    found[line.line_no] = row
                    break
            elif row.lot is None or row.lot.expiry_date is None or row.lot.expiry_date >= today:
                found[line.line_no] = row
                break
    return found


class DispatchStepForm(ScanFormMixin, forms.Form):
    """One line: the location scanned (the source's, holding the item available), the item scanned (the line's,
    in any case), the lot for a lot-tracked item and the quantity (the line's by default; 0: none of it)."""

    location = forms.CharField(max_length=32)
    sku = forms.CharField(label="Item (SKU)", max_length=40)
    lot = forms.CharField(max_length=64, required=False)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4, min_value=0)

    def __init__(self, *args: Any, line: TransferLine, transfer: Transfer, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line, self.transfer, self.user = line, transfer, user

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        line, source = self.line, self.transfer.from_warehouse
        self.scan_location(data, source)
        location = data.get("location_obj")
        if location is not None and location.kind in NOT_PICKABLE:
            self.add_error("location", f"{location.code} is a {location.kind} location: nothing is sent from it.")
            location = None
        self.scan_item(data)
        if data.get("item") is not None and data["item"].pk != line.item_id:
            self.add_error("sku", f"Wrong item: this line is {line.item.sku}.")
        lot = (data.get("lot") or "").strip()
        if lot and not line.item.lot_tracked:
            self.add_error("lot", f"{line.item.sku} is not lot-tracked: leave the lot empty.")
        elif line.lot is not None and lot and lot != line.lot.lot_number:
            self.add_error("lot", f"This line asks for lot {line.lot.lot_number}.")
        data["lot"] = (lot or (line.lot.lot_number if line.lot else "")) if line.item.lot_tracked else ""
        quantity = data.get("quantity")
        if quantity is not None and quantity > line.quantity:
            self.add_error("quantity", f"This line asks for {plain_number(line.quantity)}: send no more.")
        if location is not None and quantity and not self.errors:
            balances = StockBalance.objects.filter(warehouse=source, location=location, item_id=line.item_id,
                                                   status__code="available")
            if data["lot"]:
                balances = balances.filter(lot__lot_number=data["lot"])
            held = sum((balance.on_hand for balance in balances), Decimal(0))
            if held <= 0:
                self.add_error("location", f"No available {line.item.sku}{' lot ' + data['lot'] if data['lot'] else ''}"
                                           f" at {location.code}.")
            elif quantity > held:
                self.add_error("quantity", f"{location.code} holds {plain_number(held)} available: send no more "
                                           f"from here.")
        return data

    def focus(self) -> str:
        if self.is_bound and self.errors:
            return next((name for name in ("location", "sku", "lot", "quantity") if name in self.errors), "location")
        return "location"


class TransferDispatchView(HandheldMixin, View):
    """Dispatch at the source on a handheld: the lines in location path order with where the stock is; per line
    scan the location, scan the item, the quantity; then one Confirm (``transfer_dispatch``)."""

    http_method_names = ["get", "post"]
    template_name = "transfers/transfer_dispatch.html"

    def page(self, transfer: Transfer, form: DispatchStepForm | None = None,
             chosen: TransferLine | None = None, status: int = 200) -> HttpResponse:
        lines = _lines(transfer)
        suggested = suggested_locations(transfer, lines)
        answers: dict[str, dict[str, str]] = _kept(self.request, DISPATCH_SESSION, transfer) or {}
        ordered = sorted(lines, key=lambda line: (line.line_no not in suggested,
                                                  suggested[line.line_no].location.path
                                                  if line.line_no in suggested else "", line.line_no))
        rows = [{"line": line, "quantity": plain_number(line.quantity), "answer": answers.get(str(line.line_no)),
                 "suggested": suggested.get(line.line_no)} for line in ordered]
        is_open = transfer.status == TransferStatus.APPROVED
        current: TransferLine | None = None
        if is_open:
            current = chosen or next((line for line in ordered if str(line.line_no) not in answers), None)
        context: dict[str, Any] = {"transfer": transfer, "rows": rows, "is_open": is_open,
                                   "answered": sum(1 for line in ordered if str(line.line_no) in answers)}
        if current is not None:
            spot = suggested.get(current.line_no)
            context.update(current=current, current_quantity=plain_number(current.quantity), suggestion=spot,
                           suggestion_on_hand=plain_number(spot.on_hand) if spot else "",
                           form=form or DispatchStepForm(
                               line=current, transfer=transfer, user=self.request.user,
                               initial={"quantity": plain_number(current.quantity),
                                        "lot": current.lot.lot_number if current.lot else ""}))
        context["ready"] = is_open and current is None and any(
            Decimal(answer["quantity"]) > 0 for answer in answers.values())
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = self.get_transfer(pk)
        if transfer.status != TransferStatus.APPROVED:
            messages.info(request, f"{transfer.number} is {transfer.get_status_display().lower()}: there is nothing "
                                   f"to dispatch.")
            return redirect("transfers:transfer-detail", pk=transfer.pk)
        return self.page(transfer, chosen=_line_asked(transfer, request.GET.get("line", "")))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = self.get_transfer(pk)
        here = redirect("transfers:transfer-dispatch", pk=transfer.pk)
        if transfer.status != TransferStatus.APPROVED:
            messages.error(request, f"{transfer.number} is {transfer.get_status_display().lower()}: it cannot be "
                                    f"dispatched.")
            return redirect("transfers:transfer-detail", pk=transfer.pk)
        action = request.POST.get("action", "line")
        if action == "restart":
            _keep(request, DISPATCH_SESSION, transfer, None)
            return here
        if action == "confirm":
            return self.confirm(transfer)
        line = _line_asked(transfer, request.POST.get("line", ""))
        if line is None:
            messages.error(request, "That line is not on this transfer.")
            return here
        form = DispatchStepForm(request.POST, line=line, transfer=transfer, user=request.user)
        if not form.is_valid():
            return self.page(transfer, form=form, chosen=line)  # as on the pick list: the step again
        data = form.cleaned_data
        answers = dict(_kept(request, DISPATCH_SESSION, transfer) or {})
        answers[str(line.line_no)] = {"quantity": plain_number(data["quantity"]), "lot": data["lot"],
                                      "location": data["location_obj"].code}
        _keep(request, DISPATCH_SESSION, transfer, answers)
        messages.success(request, f"Line {line.line_no}: {plain_number(data['quantity'])} {line.item.sku}"
                                  f"{' lot ' + data['lot'] if data['lot'] else ''} from {data['location_obj'].code}.")
        return here

    def confirm(self, transfer: Transfer) -> HttpResponse:
        request = self.request
        answers: dict[str, dict[str, str]] = _kept(request, DISPATCH_SESSION, transfer) or {}
        numbers = {line.line_no for line in _lines(transfer)}
        missing = numbers - {int(key) for key in answers if key.isdigit()}
        if missing:
            messages.error(request, f"Scan every line first: {len(missing)} still to scan.")
            return redirect("transfers:transfer-dispatch", pk=transfer.pk)
        specs = [DispatchSpec(line_no=int(key), quantity=Decimal(answer["quantity"]),
                              lot_number=answer.get("lot") or None, location=answer.get("location") or None)
                 for key, answer in sorted(answers.items(), key=lambda pair: int(pair[0]))
                 if key.isdigit() and int(key) in numbers and Decimal(answer["quantity"]) > 0]
        try:
            done = transfer_dispatch(transfer=transfer, actor=request.user, lines=specs)
        except DomainError as error:
            messages.error(request, refusal(error))
            return redirect("transfers:transfer-dispatch", pk=transfer.pk)
        _keep(request, DISPATCH_SESSION, transfer, None)
        messages.success(request, f"{done.number} is dispatched to {done.to_warehouse.code}: expected "
                                  f"{done.expected_arrival.isoformat()}.")
        return redirect("transfers:transfer-detail", pk=done.pk)


# --- receiving on a handheld -------------------------------------------------------------------------------


class ReceiveStepForm(ScanFormMixin, forms.Form):
    """One receipt row of a line: the item scanned (the line's, in any case), the quantity and its status."""

    sku = forms.CharField(label="Item (SKU)", max_length=40)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4, min_value=Decimal("0.0001"))
    status = forms.ChoiceField(choices=list(RECEIPT_LABELS.items()), initial="available", widget=forms.RadioSelect)

    def __init__(self, *args: Any, line: TransferLine, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line, self.user = line, user

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        self.scan_item(data)
        if data.get("item") is not None and data["item"].pk != self.line.item_id:
            self.add_error("sku", f"Wrong item: this line is {self.line.item.sku}.")
        return data

    def focus(self) -> str:
        if self.is_bound and self.errors:
            return next((name for name in ("sku", "quantity", "status") if name in self.errors), "sku")
        return "sku"


class TransferReceiveView(HandheldMixin, View):
    """Receive at the target on a handheld: per line scan the item, the quantity and its status (a line may come
    in two statuses: add a second row); then one Confirm (``transfer_receive``)."""

    end = "to_warehouse"
    http_method_names = ["get", "post"]
    template_name = "transfers/transfer_receive.html"

    def page(self, transfer: Transfer, form: ReceiveStepForm | None = None, chosen: TransferLine | None = None,
             status: int = 200) -> HttpResponse:
        lines = _lines(transfer)
        answers: list[dict[str, str]] = _kept(self.request, RECEIVE_SESSION, transfer) or []
        by_line: dict[int, list[dict[str, str]]] = {}
        for answer in answers:
            by_line.setdefault(int(answer["line_no"]), []).append(
                {**answer, "label": RECEIPT_LABELS.get(answer["status"], answer["status"]),
                 "shown": plain_number(Decimal(answer["quantity"]))})
        rows = [{"line": line, "in_transit": plain_number(max(line.in_transit, Decimal(0))),
                 "dispatched": plain_number(line.dispatched_quantity), "answers": by_line.get(line.line_no, [])}
                for line in lines]
        current = chosen or next((line for line in lines if line.in_transit > 0 and line.line_no not in by_line),
                                 None)
        context: dict[str, Any] = {"transfer": transfer, "rows": rows, "ready": bool(answers),
                                   "statuses": RECEIPT_LABELS}
        if current is not None:
            left = max(current.in_transit, Decimal(0)) - sum(
                (Decimal(answer["quantity"]) for answer in by_line.get(current.line_no, [])), Decimal(0))
            context.update(current=current, current_left=plain_number(max(left, Decimal(0))),
                           form=form or ReceiveStepForm(line=current, user=self.request.user,
                                                        initial={"quantity": plain_number(max(left, Decimal(0)))
                                                                 or "", "status": "available"}))
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = self.get_transfer(pk)
        if transfer.status not in rules.RECEIVABLE_STATUSES:
            messages.info(request, f"{transfer.number} is {transfer.get_status_display().lower()}: there is nothing "
                                   f"to receive.")
            return redirect("transfers:transfer-detail", pk=transfer.pk)
        return self.page(transfer, chosen=_line_asked(transfer, request.GET.get("line", "")))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = self.get_transfer(pk)
        here = redirect("transfers:transfer-receive", pk=transfer.pk)
        if transfer.status not in rules.RECEIVABLE_STATUSES:
            messages.error(request, f"{transfer.number} is {transfer.get_status_display().lower()}: it cannot be "
                                    f"received.")
            return redirect("transfers:transfer-detail", pk=transfer.pk)
        action = request.POST.get("action", "line")
        if action == "restart":
            _keep(request, RECEIVE_SESSION, transfer, None)
            return here
        if action == "confirm":
            return self.confirm(transfer)
        line = _line_asked(transfer, request.POST.get("line", ""))
        if line is None:
            messages.error(request, "That line is not on this transfer.")
            return here
        form = ReceiveStepForm(request.POST, line=line, user=request.user)
        if not form.is_valid():
            return self.page(transfer, form=form, chosen=line)  # as on the pick list: the step again
        data = form.cleaned_data
        answers = list(_kept(request, RECEIVE_SESSION, transfer) or [])
        answers.append({"line_no": str(line.line_no), "quantity": plain_number(data["quantity"]),
                        "status": data["status"]})
        _keep(request, RECEIVE_SESSION, transfer, answers)
        messages.success(request, f"Line {line.line_no}: {plain_number(data['quantity'])} {line.item.sku} "
                                  f"{RECEIPT_LABELS[data['status']].lower()}.")
        return here

    def confirm(self, transfer: Transfer) -> HttpResponse:
        request = self.request
        answers: list[dict[str, str]] = _kept(request, RECEIVE_SESSION, transfer) or []
        if not answers:
            messages.error(request, "Scan what arrived first.")
            return redirect("transfers:transfer-receive", pk=transfer.pk)
        specs = [ReceiveSpec(line_no=int(answer["line_no"]), quantity=Decimal(answer["quantity"]),
                             status=answer["status"]) for answer in answers]
        try:
            done = transfer_receive(transfer=transfer, lines=specs, actor=request.user)
        except DomainError as error:
            messages.error(request, refusal(error))
            return redirect("transfers:transfer-receive", pk=transfer.pk)
        _keep(request, RECEIVE_SESSION, transfer, None)
        note = "" if done.status == TransferStatus.RECEIVED else " Part of it is still in transit."
        messages.success(request, f"{done.number} is {done.get_status_display().lower()} at "
                                  f"{done.to_warehouse.code}.{note}")
        return redirect("transfers:transfer-detail", pk=done.pk)


urlpatterns: list[URLPattern] = [
    path("transfers/", TransferListView.as_view(), name="transfer-list"),
    path("transfers/new/", TransferRequestView.as_view(), name="transfer-new"),
    path("transfers/<int:pk>/", TransferDetailView.as_view(), name="transfer-detail"),
    path("transfers/<int:pk>/submit/", TransferSubmitView.as_view(), name="transfer-submit"),
    path("transfers/<int:pk>/cancel/", TransferCancelView.as_view(), name="transfer-cancel"),
    path("transfers/<int:pk>/dispatch/", TransferDispatchView.as_view(), name="transfer-dispatch"),
    path("transfers/<int:pk>/receive/", TransferReceiveView.as_view(), name="transfer-receive"),
]
