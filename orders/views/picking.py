"""Screens: picking on a handheld.

The list (``pick-list-list``) shows the pick lists of the user's warehouses, open ones first, with two forms
for who may list stock: start a wave (a warehouse and a cut-off date) or pick one order. A list's page walks its
lines in sequence: scan the location, scan the item, type the quantity (the quantity asked is filled in; 0 when
nothing is there) and, for a lot-tracked item, the lot (the one asked for is filled in). Each line's answer is
kept in the session until the last one is in; then one button confirms the whole list
(``orders.services.picking.pick_list_confirm``), which is where stock is released and reallocated. A scan of the
wrong location or item is an error on its field and keeps nothing; refusals of the service come back as a
message and change nothing. Everything works without JavaScript; Alpine only moves the focus on Enter.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

from django import forms
from django.contrib import messages
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views import View
from django.views.generic import FormView

from erp.confirm import ConfirmStepView
from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.scoping import scope_queryset
from erp.screens import (
    SEARCH_MAX_LENGTH,
    Column,
    ScreenAccessMixin,
    ScreenListView,
    is_htmx_partial,
    model_choice_field,
)
from inventory.models import Lot
from inventory.views import ScanFormMixin, UserFormMixin
from orders.models import PickLineStatus, PickList, PickListLine, PickListStatus
from orders.selectors import pick_list_cancel_undoes
from orders.services.picking import (
    PickAnswer,
    order_to_pick,
    pick_list_cancel,
    pick_list_confirm,
    pick_list_create,
    pick_list_headers,
    pick_list_lines,
    pick_lists,
)
from warehouses.models import Warehouse

SESSION_KEY = "pick_answers"
# The badge each pick list and line status wears (classes of concord.css).
BADGES: dict[str, str] = {
    PickListStatus.OPEN: "badge--soon", PickListStatus.PICKED: "badge--ok", PickListStatus.CANCELLED: "badge--off",
    PickLineStatus.SHORT: "appr-status--pending",
}


def _refusal(error: DomainError) -> str:
    """A service's refusal as one sentence: the message and the problems it names, line by line."""
    parts = [error.message]
    detail = error.detail if isinstance(error.detail, dict) else {}
    for value in detail.values():
        if isinstance(value, list):
            parts += [str(problem) for problem in value if isinstance(problem, str)]
            parts += [" ".join(f"{k}: {v}" for k, v in problem.items()) for problem in value
                      if isinstance(problem, dict) and problem]
        elif isinstance(value, dict):
            parts += [f"{label}: {' '.join(map(str, problems))}" for label, problems in value.items()]
    return " ".join(parts)


# --- the list, with the forms that start a wave or pick one order ----------------------------------------------


class PickListCreateForm(forms.Form):
    """A wave (every order shipping by the cut-off) or one order, at a warehouse of the user's."""

    kind = forms.ChoiceField(choices=[("wave", "Wave"), ("order", "One order")], widget=forms.HiddenInput)
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), to_field_name="code", empty_label=None)
    wave_cutoff = forms.DateField(label="Ships by", required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="Every order at the warehouse shipping on or before this date.")
    order = forms.CharField(label="Order", max_length=20, required=False, help_text="Its number, e.g. SO-000042.")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        model_choice_field(self, "warehouse").queryset = scope_queryset(
            Warehouse.objects.filter(active=True).order_by("code"), user)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind, warehouse = data.get("kind"), data.get("warehouse")
        data["order_obj"] = None
        if kind == "wave" and not data.get("wave_cutoff") and "wave_cutoff" not in self.errors:
            self.add_error("wave_cutoff", "Give the cut-off date of the wave.")
        if kind == "order":
            number = (data.get("order") or "").strip()
            if not number:
                self.add_error("order", "Scan or type the order number.")
            elif warehouse is not None:
                data["order_obj"] = order_to_pick(number, warehouse, self.user)
                if data["order_obj"] is None:
                    self.add_error("order", f"No order {number}.")
        return data


def _create_forms(user: Any, bound: PickListCreateForm | None = None, warehouse: str = "") -> dict[str, Any]:
    """The wave form and the order form, one of them possibly bound (with its errors)."""
    initial = {"warehouse": warehouse or None}
    wave = PickListCreateForm(user=user, initial={**initial, "kind": "wave", "wave_cutoff": timezone.localdate()})
    order = PickListCreateForm(user=user, initial={**initial, "kind": "order"})
    if bound is not None:
        if bound.data.get("kind") == "order":
            order = bound
        else:
            wave = bound
    wave.auto_id, order.auto_id = "wave_%s", "order_%s"  # both forms share a page: distinct element ids
    return {"wave_form": wave, "order_form": order}


class PickListListView(ScreenListView[PickList]):
    """The pick lists of the user's warehouses, open ones first, then the newest, narrowed by warehouse and
    status; for users who may list stock, the forms that start a wave or pick one order."""

    has_filters = True

    model = PickList
    permission_required = "orders.view_picklist"
    template_name = "orders/picking/list.html"
    rows_template_name = "orders/picking/_rows.html"
    search_fields = ("number", "order__number")
    search_placeholder = "List or order number"
    title = "Picking"
    columns = (
        Column("List", "number", sort="number"),
        Column("Warehouse", "warehouse.code", sort="warehouse__code"),
        Column("Status", "get_status_display", sort="status"),
        Column("Lines", "line_count", sort="line_count", css="num"),
        Column("What", lambda pick: f"Order {pick.order.number}" if pick.order else f"Wave to {pick.wave_cutoff}",
               css="col-opt"),
        Column("Opened", "created_at", sort="created_at", css="col-opt"),
        Column("Picked", "picked_at", sort="picked_at", css="col-opt"),
    )

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def base_queryset(self) -> QuerySet[PickList]:
        queryset = pick_list_headers()
        if warehouse := self.filter_value("warehouse"):
            queryset = queryset.filter(warehouse__code=warehouse)
        if status := self.filter_value("status"):
            queryset = queryset.filter(status=status)
        open_first = Case(When(status=PickListStatus.OPEN, then=Value(0)), default=Value(1),
                          output_field=IntegerField())
        return queryset.order_by(open_first, "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        warehouse = self.filter_value("warehouse")
        context.update(
            warehouse=warehouse, status=self.filter_value("status"), statuses=PickListStatus.choices,
            warehouses=list(scope_queryset(Warehouse.objects.order_by("code"), user).values_list("code", flat=True)),
            rows=[{"pick_list": pick_list, "badge": BADGES.get(pick_list.status, "")}
                  for pick_list in context["object_list"]],
        )
        if user.has_perm("orders.add_picklist") and not is_htmx_partial(self.request):
            context.update(_create_forms(user, warehouse=warehouse))
        return context


class PickListCreateView(UserFormMixin, ScreenAccessMixin, FormView[PickListCreateForm]):
    """Start a wave or list one order (``pick_list_create``) and go to the list's first line; refusals come back
    on the form, on the list page."""

    permission_required = "orders.add_picklist"
    form_class = PickListCreateForm
    template_name = "orders/picking/create.html"
    http_method_names = ["post"]

    def form_valid(self, form: PickListCreateForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            pick_list = pick_list_create(
                warehouse=data["warehouse"], actor=self.request.user, order=data["order_obj"],
                wave_cutoff=data["wave_cutoff"] if data["kind"] == "wave" else None)
        except DomainError as error:
            form.add_error(None, _refusal(error))
            return self.form_invalid(form)
        lines = pick_list.lines.count()
        messages.success(self.request, f"{pick_list.number} is open: {lines} line{'s' if lines != 1 else ''} to pick "
                                       f"at {data['warehouse'].code}.")
        return redirect("orders:pick-list-detail", pk=pick_list.pk)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(_create_forms(self.request.user, bound=context["form"]))
        return context


# --- one list, walked line by line -----------------------------------------------------------------------------


def _line_id(raw: str) -> int | None:
    """A line id typed into a URL or a form: digits that fit a bigint, else None (never a database error)."""
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _answers(request: HttpRequest, pick_list: PickList) -> dict[str, dict[str, str]]:
    """This list's answers kept in the session so far: line id -> {"quantity", "lot"}."""
    return dict(request.session.get(SESSION_KEY, {}).get(str(pick_list.pk), {}))


def _keep(request: HttpRequest, pick_list: PickList, answers: dict[str, dict[str, str]] | None) -> None:
    kept = dict(request.session.get(SESSION_KEY, {}))
    if answers is None:
        kept.pop(str(pick_list.pk), None)
    else:
        kept[str(pick_list.pk)] = answers
    request.session[SESSION_KEY] = kept


class PickStepForm(ScanFormMixin, forms.Form):
    """One line: the location and the item scanned (each must be the line's), the quantity picked and the lot."""

    location = forms.CharField(max_length=32)
    sku = forms.CharField(label="Item (SKU)", max_length=40)
    lot = forms.CharField(max_length=64, required=False)
    quantity = forms.DecimalField(label="Picked quantity", max_digits=18, decimal_places=4, min_value=0)

    def __init__(self, *args: Any, line: PickListLine, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line, self.user = line, user

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        line = self.line
        self.scan_location(data, line.pick_list.warehouse)
        if data.get("location_obj") is not None and data["location_obj"].pk != line.location_id:
            self.add_error("location", f"Wrong location: this line is at {line.location.code}.")
        self.scan_item(data)
        if data.get("item") is not None and data["item"].pk != line.item_id:
            self.add_error("sku", f"Wrong item: this line is {line.item.sku}.")
        quantity = data.get("quantity")
        if quantity is not None and quantity > line.quantity:
            self.add_error("quantity", f"This line asks for {plain_number(line.quantity)}: pick no more.")
        lot = (data.get("lot") or "").strip()
        if lot and not line.item.lot_tracked:
            self.add_error("lot", f"{line.item.sku} is not lot-tracked: leave the lot empty.")
        elif lot and lot != (line.lot.lot_number if line.lot else "") and \
                not Lot.objects.filter(item_id=line.item_id, lot_number=lot).exists():
            self.add_error("lot", f"{line.item.sku} has no lot {lot}.")
        data["lot"] = lot if line.item.lot_tracked else ""
        return data

    def focus(self) -> str:
        if self.is_bound and self.errors:
            return next((name for name in ("location", "sku", "lot", "quantity") if name in self.errors), "location")
        return "location"


class PickListMixin(ScreenAccessMixin):
    """A pick list of the user's warehouses by its id: any other is a 404, like one that does not exist."""

    request: HttpRequest
    kwargs: dict[str, Any]

    def get_pick_list(self) -> PickList:
        return get_object_or_404(pick_lists(self.request.user), pk=self.kwargs["pk"])


class _WalkRow(TypedDict):
    line: PickListLine
    answer: dict[str, str] | None
    quantity: str
    picked: str | None
    badge: str


def _walk(request: HttpRequest, pick_list: PickList, form: PickStepForm | None = None,
          chosen: PickListLine | None = None) -> dict[str, Any]:
    """The list's page: its lines with what was answered for each, the line to pick now and its form."""
    lines = list(pick_list_lines(pick_list).select_related("pick_list__warehouse"))
    answers = _answers(request, pick_list)
    is_open = pick_list.status == PickListStatus.OPEN
    can_pick = is_open and request.user.has_perm("orders.change_picklist")
    rows: list[_WalkRow] = []
    for line in lines:
        answer = answers.get(str(line.pk)) if line.status == PickLineStatus.OPEN else None
        rows.append({"line": line, "answer": answer, "quantity": plain_number(line.quantity),
                     "picked": None if line.picked_quantity is None else plain_number(line.picked_quantity),
                     "badge": BADGES.get(line.status, "")})
    to_answer = [row for row in rows if row["line"].status == PickLineStatus.OPEN]
    current = chosen or next((row["line"] for row in to_answer if row["answer"] is None), None)
    context: dict[str, Any] = {
        "pick_list": pick_list, "rows": rows, "is_open": is_open, "can_pick": can_pick,
        "badge": BADGES.get(pick_list.status, ""), "to_answer": len(to_answer),
        "answered": sum(1 for row in to_answer if row["answer"] is not None),
    }
    if can_pick and current is not None:
        initial = {"quantity": plain_number(current.quantity), "lot": current.lot.lot_number if current.lot else ""}
        context.update(current=current, current_quantity=plain_number(current.quantity),
                       form=form or PickStepForm(line=current, user=request.user, initial=initial))
    context["ready"] = can_pick and bool(to_answer) and context["answered"] == len(to_answer) and current is None
    return context


class PickListDetailView(PickListMixin, View):
    """A pick list on a handheld: open, the next line to pick (or the one chosen with ``?line=``) and the walk;
    picked or cancelled, what was picked per line."""

    permission_required = "orders.view_picklist"
    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        pick_list = self.get_pick_list()
        chosen = None
        if (wanted := _line_id(request.GET.get("line", ""))) is not None:
            chosen = (pick_list_lines(pick_list).select_related("pick_list__warehouse")
                      .filter(pk=wanted, status=PickLineStatus.OPEN).first())
        return render(request, "orders/picking/detail.html", _walk(request, pick_list, chosen=chosen))


class PickLineView(PickListMixin, View):
    """The picker's Enter on one line: the scans checked against the line, then its answer kept in the session
    (nothing is written until the list is confirmed). The next unanswered line follows."""

    permission_required = "orders.change_picklist"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        pick_list = self.get_pick_list()
        here = redirect("orders:pick-list-detail", pk=pick_list.pk)
        if pick_list.status != PickListStatus.OPEN:
            messages.error(request, f"{pick_list.number} is {pick_list.get_status_display().lower()}.")
            return here
        wanted = _line_id(request.POST.get("line", ""))
        line = (pick_list_lines(pick_list).select_related("pick_list__warehouse")
                .filter(pk=wanted, status=PickLineStatus.OPEN).first() if wanted is not None else None)
        if line is None:
            messages.error(request, "That line is not open on this list any more.")
            return here
        form = PickStepForm(request.POST, line=line, user=request.user)
        if not form.is_valid():
            context = _walk(request, pick_list, form=form, chosen=line)
            return render(request, "orders/picking/detail.html", context, status=200)
        data = form.cleaned_data
        answers = _answers(request, pick_list)
        answers[str(line.pk)] = {"quantity": str(data["quantity"]), "lot": data["lot"]}
        _keep(request, pick_list, answers)
        short = " (short)" if data["quantity"] < line.quantity else ""
        messages.success(request, f"Line {line.sequence}: {plain_number(data['quantity'])} {line.item.sku}"
                                  f"{' lot ' + data['lot'] if data['lot'] else ''} at {line.location.code}{short}.")
        return here


class PickListConfirmView(PickListMixin, View):
    """Confirm the list with the answers kept for its lines (``pick_list_confirm``)."""

    permission_required = "orders.change_picklist"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        pick_list = self.get_pick_list()
        here = redirect("orders:pick-list-detail", pk=pick_list.pk)
        if pick_list.status != PickListStatus.OPEN:
            messages.error(request, f"{pick_list.number} is {pick_list.get_status_display().lower()}: nothing to "
                                    f"confirm.")
            return here
        answers = _answers(request, pick_list)
        open_ids = set(PickListLine.objects.filter(pick_list=pick_list, status=PickLineStatus.OPEN)
                       .values_list("pk", flat=True))
        missing = open_ids - {int(pk) for pk in answers if pk.isdigit()}
        if missing:
            messages.error(request, f"Pick every line first: {len(missing)} still to pick.")
            return here
        try:
            done = pick_list_confirm(pick_list=pick_list, actor=request.user, answers=[
                PickAnswer(line_id=int(line_id), picked_quantity=Decimal(answer["quantity"]),
                           lot_number=answer.get("lot") or None)
                for line_id, answer in answers.items() if line_id.isdigit() and int(line_id) in open_ids])
        except DomainError as error:
            messages.error(request, _refusal(error))
            return here
        _keep(request, pick_list, None)
        short = done.lines.filter(status=PickLineStatus.SHORT).count()
        note = (f" {short} line{'s were' if short != 1 else ' was'} short: the rest was looked for elsewhere, and "
                f"what is still missing is raised as a shortage.") if short else ""
        messages.success(request, f"{done.number} is picked.{note}")
        return here


class PickListCancelView(ConfirmStepView[PickList]):
    """Cancel an open list (``pick_list_cancel``) through the confirm step: its stock waits for another list."""

    permission_required = "orders.change_picklist"
    button_label = "Cancel the list"
    back_label = "Keep the list"

    def get_target(self, pk: int) -> PickList:
        return get_object_or_404(pick_lists(self.request.user).select_related("warehouse"), pk=pk)

    def question(self, target: PickList) -> str:
        return f"Cancel pick list {target.number}?"

    def undoes(self, target: PickList) -> list[str]:
        return pick_list_cancel_undoes(target)

    def back_url(self, target: PickList) -> str:
        return reverse("orders:pick-list-detail", args=[target.pk])

    def done_url(self, target: PickList) -> str:
        return f"{reverse('orders:pick-list-list')}?{urlencode({'warehouse': target.warehouse.code})}"

    def refusal(self, error: DomainError) -> str:
        return _refusal(error)

    def perform(self, target: PickList, reason: str) -> str:
        pick_list_cancel(pick_list=target, actor=self.request.user)
        _keep(self.request, target, None)
        return f"{target.number} is cancelled: its stock waits for another list."


urlpatterns: list[URLPattern] = [
    path("", PickListListView.as_view(), name="pick-list-list"),
    path("new/", PickListCreateView.as_view(), name="pick-list-create"),
    path("<int:pk>/", PickListDetailView.as_view(), name="pick-list-detail"),
    path("<int:pk>/pick/", PickLineView.as_view(), name="pick-list-pick"),
    path("<int:pk>/confirm/", PickListConfirmView.as_view(), name="pick-list-confirm"),
    path("<int:pk>/cancel/", PickListCancelView.as_view(), name="pick-list-cancel"),
]
