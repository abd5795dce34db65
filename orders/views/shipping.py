"""Screens: packing and shipping, on a handheld at the packing bench.

The list (``shipment-list``) shows, for the user's warehouses, the orders whose picked stock waits to be packed
and the shipments, packed and shipped ones first. Packing an order (``shipment-pack``) lists its picked lines
(all ticked), then the packages: a weight for each (the goods' weight from the item master is the hint) and
optionally the size and a tracking number; the carrier and tracking number may be named now or when it ships.
A shipment's page shows its lines, packages and documents; while it is packed, the documents the warehouse's
policy still requires are named above the ship button (which is disabled until they are attached), with the
form to attach one right there. Shipped, it takes the delivery confirmation. The packing slip
(``shipment-packing-slip``) is a page of its own, without navigation, made to be printed.

Every screen reads the user's scope only (anything else is a 404) and writes through
``orders.services.shipping``; a refusal is a message on the page and changes nothing. Everything works without
JavaScript; Alpine only adds package rows in place.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.views import View
from django.views.generic import TemplateView

from erp.confirm import ConfirmStepView
from erp.exceptions import DomainError, ValidationFailed
from erp.formats import plain_number
from erp.scoping import scope_queryset
from erp.screens import SEARCH_MAX_LENGTH, Column, ScreenAccessMixin, ScreenListView, is_htmx_partial, label_choices
from orders.exceptions import DocumentsMissing
from orders.models import (
    Allocation,
    Package,
    PickListLine,
    SalesOrder,
    Shipment,
    ShipmentDocumentKind,
    ShipmentLine,
    ShipmentStatus,
)
from orders.selectors import shipment_cancel_undoes
from orders.services.shipping import (
    PACKAGE_FIELDS,
    documents_missing,
    ready_pick_lines,
    ready_to_pack,
    shipment_cancel,
    shipment_create,
    shipment_deliver,
    shipment_document_attach,
    shipment_ship,
    shipments,
)
from warehouses.models import Carrier, Warehouse

# The badge each shipment status wears (classes of concord.css).
BADGES: dict[str, str] = {ShipmentStatus.PACKED: "badge--soon", ShipmentStatus.SHIPPED: "badge--ok",
                          ShipmentStatus.DELIVERED: "badge--ok", ShipmentStatus.CANCELLED: "badge--off"}
# Shipments someone still has to act on are listed first.
ACTIVE = (ShipmentStatus.PACKED, ShipmentStatus.SHIPPED)
READY_SHOWN = 50
MAX_PACKAGE_ROWS = 20
KIND_LABELS = dict(ShipmentDocumentKind.choices)
ATTACHABLE = [(value, label) for value, label in ShipmentDocumentKind.choices
              if value != ShipmentDocumentKind.PACKING_SLIP]


def _refusal(error: DomainError) -> str:
    """A service's refusal as one sentence: missing documents by name, otherwise the message and the problems."""
    if isinstance(error, DocumentsMissing):
        names = [str(KIND_LABELS.get(kind, kind)) for kind in error.detail.get("missing", [])]
        return f"{error.detail.get('number', 'The shipment')} cannot ship yet: attach the {', '.join(names)}."
    parts = [error.message]
    detail = error.detail if isinstance(error.detail, dict) else {}
    for value in detail.values():
        if isinstance(value, list):
            parts += [str(problem) for problem in value if isinstance(problem, str)]
    return " ".join(parts)


def _weight(value: Decimal | None) -> str:
    """A weight in kg to the gram, without trailing zeros: 4.250 -> "4.25"."""
    return "" if value is None else plain_number(value)


# --- the list -----------------------------------------------------------------------------------------------


class ShipmentListView(ScreenListView[Shipment]):
    """Orders waiting to be packed at the user's warehouses, and the shipments there, active ones first."""

    has_filters = True

    model = Shipment
    permission_required = "orders.view_shipment"
    template_name = "orders/shipping/list.html"
    rows_template_name = "orders/shipping/_rows.html"
    search_fields = ("number", "order__number", "order__customer__code", "tracking_number")
    search_placeholder = "Shipment, order, customer or tracking number"
    title = "Shipping"
    columns = (
        Column("Shipment", "number", sort="number"),
        Column("Order", "order.number", sort="order__number"),
        Column("Status", "get_status_display", sort="status"),
        Column("Warehouse", "warehouse.code", sort="warehouse__code", css="col-opt"),
        Column("Lines", "line_count", sort="line_count", css="num col-opt"),
        Column("Weight (kg)", "weight", sort="weight", css="num col-opt", key="weight"),
        Column("Carrier", "carrier.code", sort="carrier__code", css="col-opt"),
        Column("Tracking", "tracking_number", css="col-opt"),
        Column("Shipped", "ship_date", sort="shipped_at", css="col-opt"),
    )

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def base_queryset(self) -> QuerySet[Shipment]:
        lines = (ShipmentLine.objects.filter(shipment=OuterRef("pk")).order_by().values("shipment")
                 .annotate(n=Count("id")).values("n"))
        weight = (Package.objects.filter(shipment=OuterRef("pk")).order_by().values("shipment")
                  .annotate(total=Sum("weight_kg")).values("total"))
        queryset = (Shipment.objects.select_related("order__customer", "warehouse", "carrier")
                    .annotate(line_count=Coalesce(Subquery(lines, output_field=IntegerField()), 0),
                              weight=Subquery(weight, output_field=DecimalField(max_digits=12, decimal_places=3))))
        if warehouse := self.filter_value("warehouse"):
            queryset = queryset.filter(warehouse__code=warehouse)
        if status := self.filter_value("status"):
            queryset = queryset.filter(status=status)
        active_first = Case(When(status__in=ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField())
        return queryset.order_by(active_first, "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        warehouse = self.filter_value("warehouse")
        context.update(
            warehouse=warehouse, status=self.filter_value("status"), statuses=ShipmentStatus.choices,
            warehouses=list(scope_queryset(Warehouse.objects.order_by("code"), user).values_list("code", flat=True)),
            rows=[{"shipment": s, "badge": BADGES.get(s.status, ""), "weight": _weight(s.weight)}
                  for s in context["object_list"]],
        )
        if is_htmx_partial(self.request):
            return context
        waiting = scope_queryset(ready_pick_lines(), user)
        if warehouse:
            waiting = waiting.filter(warehouse__code=warehouse)
        ready = ready_to_pack(waiting)
        context.update(ready=[{**row, "quantity": plain_number(row["quantity"])} for row in ready[:READY_SHOWN]],
                       ready_more=max(len(ready) - READY_SHOWN, 0),
                       can_pack=user.has_perm("orders.add_shipment"))
        return context


# --- packing ------------------------------------------------------------------------------------------------


class PackForm(forms.Form):
    carrier = forms.ModelChoiceField(queryset=Carrier.objects.filter(active=True).order_by("code"),
                                     to_field_name="code", required=False, empty_label="Name it when it ships")
    tracking_number = forms.CharField(max_length=64, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        label_choices(self, "carrier", lambda carrier: f"{carrier.code} · {carrier.name}")


def _package_rows(data: Any, count: int = 1) -> list[dict[str, str]]:
    """The package rows as typed (``package_<field>``, posted once per package), or ``count`` empty ones."""
    if data is None:
        return [dict.fromkeys(PACKAGE_FIELDS, "") for _ in range(count)]
    columns = {name: data.getlist(f"package_{name}")[:MAX_PACKAGE_ROWS] for name in PACKAGE_FIELDS}
    rows = max((len(values) for values in columns.values()), default=0)
    return [{name: (values[n] if n < len(values) else "").strip()[:64] for name, values in columns.items()}
            for n in range(rows)]


class ShipmentPackView(ScreenAccessMixin, View):
    """Pack an order's picked lines at one warehouse (``shipment_create``) and go to the new shipment."""

    permission_required = "orders.add_shipment"
    template_name = "orders/shipping/pack.html"

    def _subject(self, order_pk: int, code: str) -> tuple[SalesOrder, Warehouse, list[PickListLine]]:
        """The warehouse (in scope) and the order (in scope, or served by that warehouse), else a 404."""
        user = self.request.user
        warehouse = get_object_or_404(scope_queryset(Warehouse.objects.select_related("region"), user), code=code)
        served_here = Allocation.objects.filter(line__order=OuterRef("pk"), warehouse=warehouse)
        visible = scope_queryset(SalesOrder.objects.all(), user).values("pk")
        order = get_object_or_404(SalesOrder.objects.select_related("customer", "ship_to")
                                  .filter(Q(pk__in=visible) | Q(Exists(served_here))), pk=order_pk)
        lines = list(ready_pick_lines().filter(order_line__order=order, warehouse=warehouse)
                     .select_related("item__base_uom", "location", "lot", "picked_lot", "order_line", "pick_list")
                     .order_by("order_line__line_no", "pick_list_id", "sequence"))
        return order, warehouse, lines

    def _render(self, request: HttpRequest, order: SalesOrder, warehouse: Warehouse, lines: list[PickListLine],
                form: PackForm, packages: list[dict[str, str]], chosen: set[int] | None = None,
                status: int = 200) -> HttpResponse:
        # Ready lines are picked: picked_quantity is set on each.
        estimate = sum(((line.item.weight_kg or Decimal(0)) * (line.picked_quantity or Decimal(0)) for line in lines),
                       Decimal(0))
        context = {
            "order": order, "warehouse": warehouse, "form": form, "packages": packages,
            "rows": [{"line": line, "quantity": plain_number(line.picked_quantity or Decimal(0)),
                      "lot": line.picked_lot or line.lot, "chosen": chosen is None or line.pk in chosen}
                     for line in lines],
            "estimate": _weight(estimate.quantize(Decimal("0.001"))) if estimate else "",
            "more_packages": min(len(packages) + 1, MAX_PACKAGE_ROWS),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, order: int, warehouse: str) -> HttpResponse:
        subject = self._subject(order, warehouse)
        try:
            count = min(max(int(request.GET.get("packages", "1")), 1), MAX_PACKAGE_ROWS)
        except ValueError:
            count = 1
        return self._render(request, *subject, PackForm(), _package_rows(None, count))

    def post(self, request: HttpRequest, order: int, warehouse: str) -> HttpResponse:
        subject, site, lines = self._subject(order, warehouse)
        form = PackForm(request.POST)
        packages = _package_rows(request.POST)
        chosen = {int(value) for value in request.POST.getlist("pick_line")[:1000] if value.isdigit()}
        if not form.is_valid():
            return self._render(request, subject, site, lines, form, packages or _package_rows(None), chosen)
        filled = [row for row in packages if any(row.values())]
        if not chosen:
            messages.error(request, "Tick at least one picked line to pack.")
            return self._render(request, subject, site, lines, form, packages or _package_rows(None), chosen)
        try:
            shipment = shipment_create(
                order=subject, warehouse=site, actor=request.user, carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
                packages=[{name: value or None for name, value in row.items()} for row in filled],
                pick_line_ids=None if chosen >= {line.pk for line in lines} else sorted(chosen),
            )
        except DomainError as error:
            messages.error(request, _refusal(error))
            return self._render(request, subject, site, lines, form, packages or _package_rows(None), chosen)
        count = shipment.lines.count()
        messages.success(request, f"{shipment.number} is packed: {count} line{'s' if count != 1 else ''} in "
                                  f"{len(filled)} package{'s' if len(filled) != 1 else ''}.")
        return redirect("orders:shipment-detail", pk=shipment.pk)


# --- a shipment -----------------------------------------------------------------------------------------------


class ShipmentMixin(ScreenAccessMixin):
    request: HttpRequest
    kwargs: dict[str, Any]

    def get_shipment(self) -> Shipment:
        return get_object_or_404(scope_queryset(shipments(), self.request.user), pk=self.kwargs["pk"])


def _shipment_context(shipment: Shipment, user: Any) -> dict[str, Any]:
    packages = list(shipment.packages.all())
    missing = documents_missing(shipment) if shipment.status == ShipmentStatus.PACKED else []
    lines = [{"line": line, "quantity": plain_number(line.quantity)} for line in shipment.lines.all()]
    return {
        "shipment": shipment, "badge": BADGES.get(shipment.status, ""), "lines": lines, "packages": packages,
        "documents": list(shipment.documents.all()), "missing": [KIND_LABELS[kind] for kind in missing],
        "missing_kinds": missing, "first_missing": missing[0] if missing else "",
        "weight": _weight(sum((p.weight_kg for p in packages), Decimal(0))),
        "value": sum((line.value for line in shipment.lines.all() if line.value is not None), Decimal(0)),
        "is_packed": shipment.status == ShipmentStatus.PACKED,
        "is_shipped": shipment.status == ShipmentStatus.SHIPPED,
        "can_change": user.has_perm("orders.change_shipment"),
        "carriers": list(Carrier.objects.filter(active=True).order_by("code")),
        "attachable": ATTACHABLE,
    }


class ShipmentDetailView(ShipmentMixin, TemplateView):
    """One shipment: what is in it, its packages and documents, and what can be done next."""

    permission_required = "orders.view_shipment"
    template_name = "orders/shipping/detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(_shipment_context(self.get_shipment(), self.request.user))
        return context


class PackingSlipView(ShipmentMixin, TemplateView):
    """The packing slip, to print: no navigation, the order, where it goes, what is in it and the packages."""

    permission_required = "orders.view_shipment"
    template_name = "orders/shipping/packing_slip.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        shipment = self.get_shipment()
        context.update(_shipment_context(shipment, self.request.user))
        context["legal_entity"] = shipment.warehouse.legal_entity if shipment.warehouse.legal_entity_id else None
        return context


class ShipmentActionView(ShipmentMixin, View):
    """A button on a shipment's page: the service's answer is a message, and back to the page."""

    permission_required = "orders.change_shipment"
    http_method_names = ["post"]

    def act(self, request: HttpRequest, shipment: Shipment) -> str:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        shipment = self.get_shipment()
        try:
            done = self.act(request, shipment)
        except DomainError as error:
            messages.error(request, _refusal(error))
        else:
            messages.success(request, done)
        return redirect("orders:shipment-detail", pk=shipment.pk)


class ShipmentShipView(ShipmentActionView):
    def act(self, request: HttpRequest, shipment: Shipment) -> str:
        code = request.POST.get("carrier", "").strip()[:32]
        carrier = Carrier.objects.filter(code=code).first() if code else None
        if code and carrier is None:
            raise ValidationFailed(f"There is no carrier {code}.")
        tracking = request.POST.get("tracking_number")
        shipped = shipment_ship(shipment=shipment, actor=request.user, carrier=carrier,
                                tracking_number=None if tracking is None else tracking[:100])
        return (f"{shipped.number} has shipped{' with ' + shipped.carrier.code if shipped.carrier else ''}"
                f"{' (' + shipped.tracking_number + ')' if shipped.tracking_number else ''}: the stock left "
                f"{shipped.warehouse.code}.")


class ShipmentDocumentView(ShipmentActionView):
    def act(self, request: HttpRequest, shipment: Shipment) -> str:
        kind = request.POST.get("kind", "")[:40]
        document = shipment_document_attach(shipment=shipment, kind=kind,
                                            reference=request.POST.get("reference", "")[:300], actor=request.user)
        return f"{KIND_LABELS.get(document.kind, document.kind)} {document.reference} is attached to {shipment.number}."


class ShipmentDeliverView(ShipmentActionView):
    def act(self, request: HttpRequest, shipment: Shipment) -> str:
        delivered = shipment_deliver(shipment=shipment, actor=request.user,
                                     note=request.POST.get("note", "")[:600])
        order = SalesOrder.objects.only("number", "status").get(pk=delivered.order_id)
        return (f"{delivered.number} is delivered."
                f"{' ' + order.number + ' is delivered in full.' if order.status == 'delivered' else ''}")


class ShipmentCancelView(ConfirmStepView[Shipment]):
    """Cancel (unpack) a packed shipment (``shipment_cancel``) through the confirm step."""

    permission_required = "orders.change_shipment"
    button_label = "Cancel the shipment (unpack)"
    back_label = "Keep the shipment"

    def get_target(self, pk: int) -> Shipment:
        return get_object_or_404(scope_queryset(shipments(), self.request.user), pk=pk)

    def question(self, target: Shipment) -> str:
        return f"Cancel shipment {target.number}?"

    def undoes(self, target: Shipment) -> list[str]:
        return shipment_cancel_undoes(target)

    def back_url(self, target: Shipment) -> str:
        return reverse("orders:shipment-detail", args=[target.pk])

    def refusal(self, error: DomainError) -> str:
        return _refusal(error)

    def perform(self, target: Shipment, reason: str) -> str:
        cancelled = shipment_cancel(shipment=target, actor=self.request.user)
        return f"{cancelled.number} is cancelled: its picked lines wait to be packed again."


urlpatterns: list[URLPattern] = [
    path("", ShipmentListView.as_view(), name="shipment-list"),
    path("pack/<int:order>/<str:warehouse>/", ShipmentPackView.as_view(), name="shipment-pack"),
    path("<int:pk>/", ShipmentDetailView.as_view(), name="shipment-detail"),
    path("<int:pk>/packing-slip/", PackingSlipView.as_view(), name="shipment-packing-slip"),
    path("<int:pk>/ship/", ShipmentShipView.as_view(), name="shipment-ship"),
    path("<int:pk>/documents/", ShipmentDocumentView.as_view(), name="shipment-document"),
    path("<int:pk>/deliver/", ShipmentDeliverView.as_view(), name="shipment-deliver"),
    path("<int:pk>/cancel/", ShipmentCancelView.as_view(), name="shipment-cancel"),
]
