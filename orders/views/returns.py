"""Screens of returns (RMA): the list of the scope, a return's page, the authorization of shipped lines of an order
(customer service) and the receipt on a handheld, with a disposition per line (warehouse operators).

Every screen reads returns narrowed to the user's scope (one outside it is a 404, as one that does not exist) and
writes through ``orders.services.returns``; a refusal comes back on the form or as a message, never as a server
error.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
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
    model_choice_field,
    put_refusal,
)
from orders.models import Disposition, ReturnAuthorization, ReturnStatus, SalesOrder
from orders.selectors import return_cancel_undoes
from orders.services.returns import (
    MAX_NOTE,
    MAX_REASON,
    ReceiptLineSpec,
    Returnable,
    ReturnLineSpec,
    return_authorizations,
    return_authorize,
    return_cancel,
    return_inspection_required,
    return_receive,
    return_warehouse_default,
    returnable_lines,
)
from warehouses.models import Warehouse

# The badge each return status wears (classes of concord.css).
STATUS_BADGES: dict[str, str] = {
    ReturnStatus.AUTHORIZED: "badge--soon", ReturnStatus.RECEIVED: "badge--ok", ReturnStatus.CLOSED: "badge--off",
    ReturnStatus.CANCELLED: "badge--off",
}


def _scoped_returns(user: Any) -> QuerySet[ReturnAuthorization]:
    return scope_queryset(return_authorizations(), user)


# --- the list -------------------------------------------------------------------------------------------------


class ReturnListView(ScreenListView[ReturnAuthorization]):
    """The returns of the scope, those waiting to be received first, then the newest; narrowed by status and
    warehouse, searchable by return, order or customer."""

    has_filters = True

    model = ReturnAuthorization
    permission_required = "orders.view_returnauthorization"
    template_name = "orders/returns/return_list.html"
    rows_template_name = "orders/returns/_return_rows.html"
    search_fields = ("number", "order__number", "customer__code")
    search_placeholder = "Return, order or customer"
    title = "Returns"
    columns = (
        Column("Return", "number", sort="number"),
        Column("Order", "order.number", sort="order__number"),
        Column("Warehouse", "warehouse.code", sort="warehouse__code"),
        Column("Status", "get_status_display", sort="status"),
        Column("Authorized", lambda rma: sum((line.quantity for line in rma.lines.all()), Decimal(0)), css="num"),
        Column("Received", lambda rma: sum((line.received_quantity for line in rma.lines.all()), Decimal(0)),
               css="num"),
        Column("Customer", "customer.code", sort="customer__code", css="col-opt"),
        Column("Authorized on", "created_at", sort="created_at", css="col-opt"),
    )

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def base_queryset(self) -> QuerySet[ReturnAuthorization]:
        queryset = (ReturnAuthorization.objects.select_related("order", "customer", "warehouse", "created_by")
                    .prefetch_related("lines"))
        if warehouse := self.filter_value("warehouse"):
            queryset = queryset.filter(warehouse__code=warehouse)
        if status := self.filter_value("status"):
            queryset = queryset.filter(status=status)
        return queryset.order_by("-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rows = []
        for rma in context["object_list"]:
            lines = list(rma.lines.all())
            rows.append({"rma": rma, "badge": STATUS_BADGES.get(rma.status, ""), "lines": len(lines),
                         "quantity": plain_number(sum((line.quantity for line in lines), Decimal(0))),
                         "received": plain_number(sum((line.received_quantity for line in lines), Decimal(0)))})
        context.update(
            warehouse=self.filter_value("warehouse"), status=self.filter_value("status"), statuses=ReturnStatus.choices,
            warehouses=list(scope_queryset(Warehouse.objects.order_by("code"), self.request.user)
                            .values_list("code", flat=True)),
            rows=rows,
        )
        return context


# --- a return's page, cancelling -----------------------------------------------------------------------------


def _line_rows(rma: ReturnAuthorization) -> list[dict[str, Any]]:
    return [{"line": line, "quantity": plain_number(line.quantity), "received": plain_number(line.received_quantity),
             "disposition": Disposition(line.disposition).label if line.disposition else ""}
            for line in rma.lines.all()]


class ReturnDetailView(ScreenAccessMixin, View):
    """One return: its order, warehouse, status and lines (with what came back and its disposition), and the
    buttons the user's role allows: receive (operators), cancel (customer service), while it is authorized."""

    permission_required = "orders.view_returnauthorization"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rma = get_object_or_404(_scoped_returns(request.user), pk=pk)
        authorized = rma.status == ReturnStatus.AUTHORIZED
        return render(request, "orders/returns/return_detail.html", {
            "rma": rma, "badge": STATUS_BADGES.get(rma.status, ""), "rows": _line_rows(rma),
            "can_receive": authorized and request.user.has_perm("orders.change_returnauthorization"),
            "can_cancel": authorized and request.user.has_perm("orders.add_returnauthorization"),
            "order_url": _order_url(rma.order),
        })


def _order_url(order: SalesOrder) -> str | None:
    try:
        return reverse("orders:order-detail", args=[order.pk])
    except NoReverseMatch:
        return None


class ReturnCancelView(ConfirmStepView[ReturnAuthorization]):
    """Cancel an authorized return (``return_cancel``) through the confirm step; back to its page."""

    permission_required = "orders.add_returnauthorization"
    button_label = "Cancel the return"
    back_label = "Keep the return"

    def get_target(self, pk: int) -> ReturnAuthorization:
        return get_object_or_404(_scoped_returns(self.request.user), pk=pk)

    def question(self, target: ReturnAuthorization) -> str:
        return f"Cancel return {target.number}?"

    def undoes(self, target: ReturnAuthorization) -> list[str]:
        return return_cancel_undoes(target)

    def back_url(self, target: ReturnAuthorization) -> str:
        return reverse("orders:return-detail", args=[target.pk])

    def perform(self, target: ReturnAuthorization, reason: str) -> str:
        return_cancel(rma=target, actor=self.request.user)
        return f"{target.number} is cancelled; its quantities may be authorized again."


# --- authorizing a return of an order's shipped lines ------------------------------------------------------


class ReturnAuthorizeForm(forms.Form):
    """The order (by number), then a quantity per shipped line (blank: not returned), the lot for a lot-tracked
    line that shipped from several, the warehouse that receives the goods and the reason."""

    order = forms.CharField(max_length=20, help_text="The order's number, e.g. SO-000042.")
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), to_field_name="code", required=False,
                                       empty_label="Where the goods shipped from",
                                       help_text="The warehouse that receives the goods back.")
    reason = forms.CharField(max_length=MAX_REASON, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, user: Any, returnable: list[Returnable] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.returnable = returnable or []
        model_choice_field(self, "warehouse").queryset = scope_queryset(
            Warehouse.objects.filter(active=True).order_by("code"), user)
        for row in self.returnable:
            number = row.line.line_no
            self.fields[f"quantity_{number}"] = forms.DecimalField(
                label=f"Line {number} · {row.line.item.sku}", required=False, min_value=Decimal(0),
                max_value=row.left, max_digits=18, decimal_places=4,
                help_text=f"Up to {plain_number(row.left)} {row.line.item.base_uom.code}")
            if len(row.lots) > 1:
                self.fields[f"lot_{number}"] = forms.ChoiceField(label="Lot", required=False,
                                                                 choices=[("", "Choose the lot"),
                                                                          *[(lot, lot) for lot in row.lots]])

    def line_fields(self) -> list[dict[str, Any]]:
        return [{"row": row, "shipped": plain_number(row.shipped), "returned": plain_number(row.returned),
                 "left": plain_number(row.left),
                 "quantity": self[f"quantity_{row.line.line_no}"],
                 "lot": self[f"lot_{row.line.line_no}"] if f"lot_{row.line.line_no}" in self.fields else None}
                for row in self.returnable]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        specs = []
        for row in self.returnable:
            number = row.line.line_no
            quantity = data.get(f"quantity_{number}")
            if not quantity:
                continue
            lot = data.get(f"lot_{number}") or None
            if len(row.lots) > 1 and not lot:
                self.add_error(f"lot_{number}", "Choose the lot that comes back.")
            specs.append(ReturnLineSpec(line_no=number, quantity=quantity, lot_number=lot))
        if self.returnable and not specs and not self.errors:
            self.add_error(None, "Give the quantity of at least one line that comes back.")
        data["specs"] = specs
        return data


def _order_in_scope(user: Any, number: str) -> SalesOrder | None:
    number = number.strip()[:20]
    return scope_queryset(SalesOrder.objects.select_related("customer"), user).filter(number=number).first()


class ReturnAuthorizeView(ScreenAccessMixin, View):
    """Customer service authorizes a return: name the order, then the quantity of each shipped line that comes
    back. ``return_authorize`` checks the limits; a refusal comes back on the form and nothing is written."""

    permission_required = "orders.add_returnauthorization"
    template_name = "orders/returns/return_authorize.html"

    def _page(self, request: HttpRequest, form: ReturnAuthorizeForm, order: SalesOrder | None,
              order_error: str = "") -> HttpResponse:
        return render(request, self.template_name, {"form": form, "order": order, "order_error": order_error,
                                                    "lines": form.line_fields() if order else []})

    def get(self, request: HttpRequest) -> HttpResponse:
        number = request.GET.get("order", "").strip()[:20]
        order = _order_in_scope(request.user, number) if number else None
        form = ReturnAuthorizeForm(user=request.user, returnable=returnable_lines(order) if order else [],
                                   initial={"order": order.number if order else number})
        return self._page(request, form, order, f"No order {number}." if number and order is None else "")

    def post(self, request: HttpRequest) -> HttpResponse:
        number = request.POST.get("order", "").strip()[:20]
        order = _order_in_scope(request.user, number) if number else None
        if order is None:
            form = ReturnAuthorizeForm(user=request.user, initial={"order": number})
            return self._page(request, form, None, f"No order {number}." if number else "Name the order.")
        form = ReturnAuthorizeForm(request.POST, user=request.user, returnable=returnable_lines(order))
        if not form.is_valid():
            return self._page(request, form, order)
        data = form.cleaned_data
        warehouse = data["warehouse"]
        if warehouse is None:
            warehouse = return_warehouse_default(order=order, line_nos=[spec.line_no for spec in data["specs"]])
            if warehouse is not None and not scope_of(request.user).covers_warehouse(warehouse.pk):
                form.add_error("warehouse", f"The goods shipped from {warehouse.code}, outside your scope; choose "
                                            f"the warehouse that receives them.")
                return self._page(request, form, order)
        try:
            rma = return_authorize(order=order, lines=data["specs"], warehouse=warehouse, reason=data["reason"],
                                   actor=request.user)
        except DomainError as error:
            put_refusal(form, error)
            return self._page(request, form, order)
        messages.success(request, f"{rma.number} authorizes {len(data['specs'])} line"
                                  f"{'s' if len(data['specs']) != 1 else ''} of {order.number} back to "
                                  f"{rma.warehouse.code}.")
        return redirect("orders:return-detail", pk=rma.pk)


# --- receiving on a handheld -------------------------------------------------------------------------------


class ReturnReceiveForm(forms.Form):
    """What came back, line by line: the quantity (blank or 0: nothing), the disposition, where it was received
    (blank: the warehouse's receiving location) and a note."""

    def __init__(self, *args: Any, rma: ReturnAuthorization, required: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rma, self.required = rma, required
        self.lines = list(rma.lines.all())
        choices = [(value, label) for value, label in Disposition.choices]
        for line in self.lines:
            number = line.line_no
            self.fields[f"quantity_{number}"] = forms.DecimalField(
                label="Quantity received", required=False, min_value=Decimal(0), max_digits=18, decimal_places=4,
                initial=plain_number(line.quantity))
            self.fields[f"disposition_{number}"] = forms.ChoiceField(
                label="Disposition", required=False, widget=forms.RadioSelect,
                choices=choices if required else [("", "Restock (no inspection)"), *choices])
            self.fields[f"location_{number}"] = forms.CharField(
                label="Location", max_length=32, required=False, help_text="Blank: the receiving location.")
            self.fields[f"note_{number}"] = forms.CharField(label="Note", max_length=MAX_NOTE, required=False)

    def line_fields(self) -> list[dict[str, Any]]:
        return [{"line": line, "quantity": plain_number(line.quantity), "received": self[f"quantity_{line.line_no}"],
                 "disposition": self[f"disposition_{line.line_no}"], "location": self[f"location_{line.line_no}"],
                 "note": self[f"note_{line.line_no}"]} for line in self.lines]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        specs = []
        for line in self.lines:
            number = line.line_no
            quantity = data.get(f"quantity_{number}")
            if not quantity:
                continue
            disposition = data.get(f"disposition_{number}") or ""
            if self.required and not disposition:
                self.add_error(f"disposition_{number}", "Choose the disposition: this warehouse inspects returns.")
            specs.append(ReceiptLineSpec(line_no=number, quantity=quantity, disposition=disposition,
                                         location=(data.get(f"location_{number}") or "").strip().upper() or None,
                                         note=(data.get(f"note_{number}") or "").strip()))
        if not specs and not self.errors:
            self.add_error(None, "Nothing received: give the quantity of at least one line, or cancel the return.")
        data["specs"] = specs
        return data


class ReturnReceiveView(ScreenAccessMixin, View):
    """The operator's receipt of an authorized return on a handheld: per line the quantity, a tap on the
    disposition, Enter. Calls ``return_receive``; a refusal comes back on the form and nothing moves."""

    permission_required = "orders.change_returnauthorization"
    template_name = "orders/returns/return_receive.html"

    def _rma(self, request: HttpRequest, pk: int) -> ReturnAuthorization:
        return get_object_or_404(_scoped_returns(request.user).select_related("warehouse__region"), pk=pk)

    def _page(self, request: HttpRequest, rma: ReturnAuthorization, form: ReturnReceiveForm) -> HttpResponse:
        return render(request, self.template_name, {"rma": rma, "form": form, "lines": form.line_fields(),
                                                    "required": form.required})

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rma = self._rma(request, pk)
        if rma.status != ReturnStatus.AUTHORIZED:
            messages.info(request, f"{rma.number} is {rma.get_status_display().lower()}; there is nothing to receive.")
            return redirect("orders:return-detail", pk=rma.pk)
        return self._page(request, rma, ReturnReceiveForm(rma=rma, required=return_inspection_required(rma.warehouse)))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rma = self._rma(request, pk)
        form = ReturnReceiveForm(request.POST, rma=rma, required=return_inspection_required(rma.warehouse))
        if not form.is_valid():
            return self._page(request, rma, form)
        try:
            received = return_receive(rma=rma, lines=form.cleaned_data["specs"], actor=request.user)
        except DomainError as error:
            put_refusal(form, error)
            return self._page(request, rma, form)
        specs = form.cleaned_data["specs"]
        summary = ", ".join(f"line {spec.line_no}: {plain_number(spec.quantity)} {spec.disposition or 'restock'}"
                            for spec in specs)
        messages.success(request, f"{received.number} received ({summary}).")
        return redirect("orders:return-detail", pk=received.pk)


urlpatterns: list[URLPattern] = [
    path("", ReturnListView.as_view(), name="return-list"),
    path("new/", ReturnAuthorizeView.as_view(), name="return-new"),
    path("<int:pk>/", ReturnDetailView.as_view(), name="return-detail"),
    path("<int:pk>/receive/", ReturnReceiveView.as_view(), name="return-receive"),
    path("<int:pk>/cancel/", ReturnCancelView.as_view(), name="return-cancel"),
]
