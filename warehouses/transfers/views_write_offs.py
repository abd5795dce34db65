"""Asking to write off what a transfer lost in transit (``transfers:transfer-write-off``): a line still in transit,
the quantity lost and why, sent to ``transfer_write_off_request`` (it waits for approval). Needs
``transfers.change_transfer`` and either warehouse in scope (the transfer is found in the scope, else 404). A bad
answer is an error beside its field (400) and nothing is written; a refusal of the service goes beside the field it
names, or on top of the form.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views import View

from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.screens import ScreenAccessMixin
from warehouses.transfers import rules
from warehouses.transfers.models import Transfer, TransferLine, TransferWriteOffLine, WriteOffStatus
from warehouses.transfers.services import MAX_NOTE, WriteOffSpec, transfer_write_off_request
from warehouses.transfers.views import _lines, _transfer, refusal


def _pending(transfer: Transfer) -> dict[int, Decimal]:
    """Per line id: what pending write-offs of ``transfer`` already ask (one query)."""
    asked: dict[int, Decimal] = {}
    for line_id, quantity in TransferWriteOffLine.objects.filter(
            write_off__transfer=transfer, write_off__status=WriteOffStatus.PENDING_APPROVAL).values_list(
            "line_id", "quantity"):
        asked[line_id] = asked.get(line_id, Decimal(0)) + quantity
    return asked


class TransferWriteOffForm(forms.Form):
    """One line still in transit, the quantity lost (base units) and the reason."""

    line = forms.TypedChoiceField(label="Line", coerce=int)
    quantity = forms.DecimalField(label="Quantity lost", max_digits=18, decimal_places=4,
                                  min_value=Decimal("0.0001"), help_text="In the item's base unit.")
    reason = forms.CharField(label="Reason", max_length=MAX_NOTE, strip=True, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Why it is written off (the carrier's report, the search done).")

    def __init__(self, *args: Any, lines: list[TransferLine], pending: dict[int, Decimal], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.left = {line.line_no: (line, line.in_transit - pending.get(line.pk, Decimal(0))) for line in lines
                     if line.in_transit > 0}
        field = self.fields["line"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(no, f"Line {no}: {line.item.sku}, {plain_number(max(left, Decimal(0)))} "
                              f"{line.item.base_uom.code} in transit and not being written off")
                         for no, (line, left) in self.left.items()]
        self.fields["reason"].error_messages["required"] = "Say why it is written off."
        self.fields["quantity"].error_messages["min_value"] = "Must be more than 0."

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        line_no, quantity = data.get("line"), data.get("quantity")
        if line_no is not None and quantity is not None and line_no in self.left:
            line, left = self.left[line_no]
            if quantity > left:
                self.add_error("quantity", f"Only {plain_number(max(left, Decimal(0)))} {line.item.base_uom.code} of "
                                           f"line {line_no} is in transit and not already being written off.")
        return data


class TransferWriteOffView(ScreenAccessMixin, View):
    """The form on its own page, reached from the transfer's page while something is in transit."""

    permission_required = "transfers.change_transfer"
    http_method_names = ["get", "post"]
    template_name = "transfers/transfer_write_off.html"

    def form(self, transfer: Transfer, data: Any = None) -> TransferWriteOffForm:
        return TransferWriteOffForm(data, lines=_lines(transfer), pending=_pending(transfer))

    def page(self, transfer: Transfer, form: TransferWriteOffForm, status: int = 200) -> HttpResponse:
        return render(self.request, self.template_name, {"transfer": transfer, "form": form}, status=status)

    def in_transit(self, transfer: Transfer) -> bool:
        if transfer.status in rules.IN_TRANSIT_STATUSES:
            return True
        messages.info(self.request, f"{transfer.number} is {transfer.get_status_display().lower()}: nothing of it is "
                                    f"in transit to write off.")
        return False

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = _transfer(request.user, pk)
        if not self.in_transit(transfer):
            return redirect("transfers:transfer-detail", pk=transfer.pk)
        return self.page(transfer, self.form(transfer))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = _transfer(request.user, pk)
        if not self.in_transit(transfer):
            return redirect("transfers:transfer-detail", pk=transfer.pk)
        form = self.form(transfer, request.POST)
        if not form.is_valid():
            return self.page(transfer, form, status=400)
        data = form.cleaned_data
        try:
            done = transfer_write_off_request(transfer=transfer, reason=data["reason"], actor=request.user,
                                              lines=[WriteOffSpec(line_no=data["line"], quantity=data["quantity"])])
        except DomainError as error:
            detail = error.detail if isinstance(error.detail, dict) else {}
            if "reason" in detail:
                form.add_error("reason", [str(problem) for problem in detail["reason"]])
            elif "in_transit" in detail or "lines" in detail:
                form.add_error("quantity", refusal(error))
            else:
                form.add_error(None, refusal(error))
            return self.page(transfer, form, status=error.status if error.status in (400, 409) else 400)
        messages.success(request, f"{done.number} asks to write off {plain_number(data['quantity'])} of line "
                                  f"{data['line']} ({done.value} {done.currency} at cost): it waits for approval.")
        return redirect("transfers:transfer-detail", pk=transfer.pk)


urlpatterns: list[URLPattern] = [
    path("transfers/<int:pk>/write-off/", TransferWriteOffView.as_view(), name="transfer-write-off"),
]
