"""Receiving against a purchase order on a handheld: scan the order's number or the supplier's reference (ASN), then
per line scan the item, the quantity, the lot and expiry of a lot-tracked item, the status and the location
(prefilled with the put-away rules' proposal where ``procurement.putaway`` is installed; blank: the rules decide),
then one Confirm posts the receipt (``receiving.receipt_post``).

The answers are kept in the session until Confirm, as on the transfer handhelds: a wrong scan is an error on its
field (the step again, 200) and nothing moves. A refusal at Confirm (beyond the over-receipt tolerance: 409) is the
service's message on the page with its status, never a server error; nothing is posted.
"""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views import View

from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.scoping import scope_of, scope_queryset
from erp.screens import ScreenAccessMixin
from governance.selectors import policy_values_at_warehouses
from inventory.views import ScanFormMixin
from procurement import rules
from procurement.models import PurchaseOrder, PurchaseOrderLine
from procurement.purchasing import purchase_orders
from procurement.receiving import INSPECTION_POLICY, RECEIVABLE_KINDS, ReceiptLineSpec, receipt_post
from procurement.views_purchasing import refusal

RECEIVE = "procurement.add_receipt"
ALLOW_OVER = "procurement.allow_over_receipt"
SESSION = "purchase_receive"
STATUS_LABELS = {"available": "Available", "quality_hold": "Quality hold"}
SCAN_MAX = 64


def putaway_module() -> ModuleType | None:
    """``procurement.putaway`` when it is installed (its proposals prefill the location), else None."""
    try:
        return importlib.import_module("procurement.putaway")
    except ImportError:
        return None


def _receivable(user: Any) -> Any:
    return scope_queryset(purchase_orders(), user).filter(status__in=rules.RECEIVABLE_STATUSES)


def _lines(order: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(PurchaseOrderLine.objects.filter(order=order).select_related("item__base_uom").order_by("line_no"))


def _kept(request: HttpRequest, order: PurchaseOrder) -> dict[str, Any]:
    kept = request.session.get(SESSION, {}).get(str(order.pk))
    return kept if isinstance(kept, dict) else {"reference": "", "answers": []}


def _keep(request: HttpRequest, order: PurchaseOrder, state: dict[str, Any] | None) -> None:
    kept = dict(request.session.get(SESSION, {}))
    if state is None:
        kept.pop(str(order.pk), None)
    else:
        kept[str(order.pk)] = state
    request.session[SESSION] = kept


def _line_asked(lines: list[PurchaseOrderLine], raw: str) -> PurchaseOrderLine | None:
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        return None
    return next((line for line in lines if line.line_no == int(raw)), None)


class ReceivingStartView(ScreenAccessMixin, View):
    """Scan the order's number or the supplier's reference: one order opens its receipt screen; several with the
    same reference are listed to choose from."""

    permission_required = RECEIVE
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        scan = request.GET.get("scan", "").strip()[:SCAN_MAX]
        found: list[PurchaseOrder] = []
        problem = ""
        if scan:
            found = list(_receivable(request.user).filter(Q(number__iexact=scan) | Q(supplier_reference__iexact=scan))
                         .order_by("pk")[:20])
            if len(found) == 1:
                return redirect("procurement:purchase-order-receive", pk=found[0].pk)
            if not found:
                problem = f"No order to receive is {scan} (by number or supplier reference) in your warehouses."
        return render(request, "procurement/receiving_start.html",
                      {"scan": scan, "found": found, "problem": problem}, status=404 if problem else 200)


class ReceiveLineForm(ScanFormMixin, forms.Form):
    """One part of a line: the item scanned (the line's), the quantity in the line's unit, the lot and expiry of a
    lot-tracked item, the status and the location (blank: the put-away rules decide)."""

    sku = forms.CharField(label="Item (SKU)", max_length=40)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4, min_value=Decimal("0.0001"))
    lot = forms.CharField(max_length=64, required=False)
    expiry = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(choices=list(STATUS_LABELS.items()), initial="available", widget=forms.RadioSelect)
    location = forms.CharField(max_length=32, required=False)

    def __init__(self, *args: Any, line: PurchaseOrderLine, order: PurchaseOrder, user: Any,
                 rules_decide: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line, self.order, self.user, self.rules_decide = line, order, user, rules_decide

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        item = self.line.item
        self.scan_item(data)
        if data.get("item") is not None and data["item"].pk != item.pk:
            self.add_error("sku", f"Wrong item: this line is {item.sku}.")
        data["lot"] = (data.get("lot") or "").strip()
        if item.lot_tracked and not data["lot"]:
            self.add_error("lot", f"{item.sku} is lot-tracked: scan its lot.")
        if not item.lot_tracked and (data["lot"] or data.get("expiry")):
            self.add_error("lot", f"{item.sku} is not lot-tracked: leave the lot and expiry empty.")
        data["location"] = (data.get("location") or "").strip().upper()
        if data["location"]:
            self.scan_location(data, self.order.warehouse)
            found = data.get("location_obj")
            if found is not None and (not found.active or found.kind not in RECEIVABLE_KINDS):
                self.add_error("location", f"{found.code} cannot take received goods.")
        elif not self.rules_decide:
            self.add_error("location", f"Scan the location: {self.order.warehouse.code} has no put-away rules here "
                                       f"yet.")
        return data

    def focus(self) -> str:
        if self.is_bound and self.errors:
            return next((name for name in ("sku", "quantity", "lot", "expiry", "location") if name in self.errors),
                        "sku")
        return "sku"


class PurchaseOrderReceiveView(ScreenAccessMixin, View):
    """The receipt of one order on a handheld: per line the step form, the rows scanned, then Confirm."""

    permission_required = RECEIVE
    http_method_names = ["get", "post"]
    template_name = "procurement/receive.html"

    def get_order(self, pk: int) -> PurchaseOrder:
        order = get_object_or_404(scope_queryset(purchase_orders(), self.request.user), pk=pk)
        if not scope_of(self.request.user).covers_warehouse(order.warehouse_id):
            raise PermissionDenied(f"{order.warehouse.code} is not in your scope.")
        return order

    def inspected(self, order: PurchaseOrder) -> bool:
        values = policy_values_at_warehouses([INSPECTION_POLICY], [order.warehouse])[order.warehouse.pk]
        return bool(values[INSPECTION_POLICY])

    def proposals(self, order: PurchaseOrder, line: PurchaseOrderLine, quantity: Decimal) -> list[tuple[str, str]]:
        """Where the put-away rules put ``quantity`` (base units) of the line: [(location code, quantity)]; empty
        without the rules or a proposal."""
        module = putaway_module()
        if module is None or quantity <= 0:
            return []
        try:
            proposed = module.putaway_proposals(warehouse=order.warehouse, lines=[(0, line.item, quantity)])
        except DomainError:  # nowhere to propose (no receiving location): the operator scans where it goes
            return []
        return [(str(part.location.code), plain_number(part.quantity)) for proposal in proposed
                for part in proposal.parts]

    def page(self, order: PurchaseOrder, *, form: ReceiveLineForm | None = None,
             chosen: PurchaseOrderLine | None = None, status: int = 200, problem: str = "") -> HttpResponse:
        lines = _lines(order)
        state = _kept(self.request, order)
        answers: list[dict[str, str]] = state["answers"]
        by_line: dict[int, list[dict[str, str]]] = {}
        for answer in answers:
            by_line.setdefault(int(answer["line_no"]), []).append(
                {**answer, "label": STATUS_LABELS.get(answer["status"], answer["status"])})
        rows = [{"line": line, "open": plain_number(line.open_quantity), "ordered": plain_number(line.quantity),
                 "answers": by_line.get(line.line_no, [])} for line in lines]
        is_open = order.status in rules.RECEIVABLE_STATUSES
        current = chosen if is_open else None
        if is_open and current is None:
            current = next((line for line in lines if line.open_quantity > 0 and line.line_no not in by_line), None)
        rules_decide = putaway_module() is not None
        context: dict[str, Any] = {
            "order": order, "rows": rows, "ready": is_open and bool(answers), "is_open": is_open,
            "reference": state.get("reference", ""), "problem": problem, "rules_decide": rules_decide,
            "may_allow_over": self.request.user.has_perm(ALLOW_OVER),
        }
        if current is not None:
            factor = current.quantity / current.uom_quantity
            taken = sum((Decimal(a["quantity"]) for a in by_line.get(current.line_no, [])), Decimal(0))
            left = max(current.open_quantity / factor - taken, Decimal(0))
            proposed = self.proposals(order, current, left * factor)
            if form is None:
                inspected = self.inspected(order)
                # One place: prefilled. Split over several: left blank, so the rules split it as proposed.
                form = ReceiveLineForm(line=current, order=order, user=self.request.user, rules_decide=rules_decide,
                                       initial={"quantity": plain_number(left) if left else "",
                                                "status": "quality_hold" if inspected else "available",
                                                "location": proposed[0][0] if len(proposed) == 1 else ""})
            context.update(current=current, current_left=plain_number(left), form=form, proposed=proposed)
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = self.get_order(pk)
        if order.status not in rules.RECEIVABLE_STATUSES:
            messages.info(request, f"{order.number} is {order.get_status_display().lower()}: there is nothing to "
                                   f"receive.")
            return redirect("procurement:purchase-order-detail", pk=order.pk)
        reference = request.GET.get("reference", "").strip()[:SCAN_MAX]
        if reference and reference.upper() != order.number.upper():
            state = _kept(request, order)
            _keep(request, order, {**state, "reference": reference})
        return self.page(order, chosen=_line_asked(_lines(order), request.GET.get("line", "")))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = self.get_order(pk)
        here = redirect("procurement:purchase-order-receive", pk=order.pk)
        if order.status not in rules.RECEIVABLE_STATUSES:
            messages.error(request, f"{order.number} is {order.get_status_display().lower()}: it cannot be received.")
            return redirect("procurement:purchase-order-detail", pk=order.pk)
        action = request.POST.get("action", "line")
        if action == "restart":
            _keep(request, order, None)
            return here
        if action == "confirm":
            return self.confirm(order)
        line = _line_asked(_lines(order), request.POST.get("line", ""))
        if line is None:
            messages.error(request, "That line is not on this order.")
            return here
        form = ReceiveLineForm(request.POST, line=line, order=order, user=request.user,
                               rules_decide=putaway_module() is not None)
        if not form.is_valid():
            return self.page(order, form=form, chosen=line)
        data = form.cleaned_data
        state = _kept(request, order)
        expiry: dt.date | None = data.get("expiry")
        state["answers"] = [*state["answers"], {
            "line_no": str(line.line_no), "quantity": plain_number(data["quantity"]), "lot": data["lot"],
            "expiry": expiry.isoformat() if expiry else "", "status": data["status"], "location": data["location"]}]
        _keep(request, order, state)
        messages.success(request, f"Line {line.line_no}: {plain_number(data['quantity'])} {line.uom_code} "
                                  f"{line.item.sku}{' lot ' + data['lot'] if data['lot'] else ''} "
                                  f"{STATUS_LABELS[data['status']].lower()}"
                                  f"{' at ' + data['location'] if data['location'] else ''}.")
        return here

    def confirm(self, order: PurchaseOrder) -> HttpResponse:
        request = self.request
        state = _kept(request, order)
        answers: list[dict[str, str]] = state["answers"]
        if not answers:
            messages.error(request, "Scan what arrived first.")
            return redirect("procurement:purchase-order-receive", pk=order.pk)
        specs = [ReceiptLineSpec(line_no=int(a["line_no"]), quantity=Decimal(a["quantity"]),
                                 lot_number=a.get("lot") or None,
                                 expiry_date=dt.date.fromisoformat(a["expiry"]) if a.get("expiry") else None,
                                 status=a["status"], location=a.get("location") or None) for a in answers]
        allow_over = request.POST.get("allow_over") == "yes" and request.user.has_perm(ALLOW_OVER)
        try:
            receipt = receipt_post(purchase_order=order, lines=specs, actor=request.user,
                                   supplier_reference=str(state.get("reference", ""))[:64], allow_over=allow_over)
        except DomainError as error:
            return self.page(order, status=error.status, problem=refusal(error))
        _keep(request, order, None)
        order.refresh_from_db()
        today = timezone.now().astimezone(ZoneInfo(order.warehouse.timezone)).date()
        messages.success(request, f"{receipt.number} is posted at {order.warehouse.code} on {today.isoformat()}: "
                                  f"{order.number} is {order.get_status_display().lower()}.")
        return redirect("procurement:purchase-order-detail", pk=order.pk)


urlpatterns: list[URLPattern] = [
    path("receiving/", ReceivingStartView.as_view(), name="receiving"),
    path("receiving/<int:pk>/", PurchaseOrderReceiveView.as_view(), name="purchase-order-receive"),
]
