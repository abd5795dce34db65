"""Shipping API (``shipments/``): picked stock packed into shipments, shipped and delivered.

POST ``shipments/`` packs the order's picked lines at a warehouse into a ``packed`` shipment with its packages
(weights in kg), an optional carrier and tracking number and documents by reference; the packing slip is attached
at once. ``{id}/documents/`` attaches another document, ``{id}/ship/`` ships it (the carrier is required, and
every document ``documents.required_for_shipment`` names at the warehouse; the stock leaves the ledger at the
current cost), ``{id}/deliver/`` confirms delivery, ``{id}/cancel/`` cancels a packed shipment. Every POST accepts
an ``Idempotency-Key``.

Shipments belong to their warehouse and are seen by whoever's scope covers it: one outside the caller's scope
answers 404. Packing needs ``orders.add_shipment``; the actions ``orders.change_shipment``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.fields import ScopedSlugRelatedField
from erp.api.idempotency import idempotent
from erp.api.serializers import StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.scoping import scope_queryset
from orders.models import (
    Allocation,
    Package,
    SalesOrder,
    Shipment,
    ShipmentDocument,
    ShipmentDocumentKind,
    ShipmentLine,
    ShipmentStatus,
)
from orders.services import shipping as services
from warehouses.models import Carrier, Warehouse

ACTIONS = ("ship", "deliver", "documents", "cancel")
MAX_BIGINT = 2**63 - 1

# --- input ----------------------------------------------------------------------------------------------


class PackageInput(StrictInputSerializer):
    """One package: its weight in kg (more than 0, to the gram), optionally its size in cm and its own tracking
    number."""

    weight_kg = serializers.DecimalField(max_digits=10, decimal_places=3, help_text="More than 0.")
    length_cm = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, allow_null=True)
    width_cm = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, allow_null=True)
    height_cm = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, allow_null=True)
    tracking_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problems = {name: ["Must be more than 0."] for name in ("weight_kg", "length_cm", "width_cm", "height_cm")
                    if attrs.get(name) is not None and attrs[name] <= 0}
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class DocumentInput(StrictInputSerializer):
    """A document attached by its reference (the invoice number, the bill of lading number...)."""

    kind = serializers.ChoiceField(choices=ShipmentDocumentKind.choices,
                                   help_text="Any but the packing slip, which is attached on packing.")
    reference = serializers.CharField(max_length=200)


class ShipmentCreateInput(StrictInputSerializer):
    """Pack an order's picked lines at one of your warehouses."""

    order = serializers.CharField(max_length=20, help_text="The order's id or number (SO-000042).")
    warehouse = ScopedSlugRelatedField(slug_field="code", queryset=Warehouse.objects.select_related("region"),
                                       help_text="A warehouse in your scope, where the order's stock was picked.")
    carrier = serializers.SlugRelatedField(slug_field="code", queryset=Carrier.objects.all(), required=False,
                                           allow_null=True, help_text="A carrier code; may wait until shipping.")
    tracking_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    # ``many_init`` is what ``many=True`` calls: called directly, the list serializer's ``max_length`` type-checks.
    packages = PackageInput.many_init(allow_empty=False, max_length=services.MAX_PACKAGES)
    documents = DocumentInput.many_init(required=False, max_length=len(ShipmentDocumentKind.values))
    pick_lines = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_BIGINT), required=False, allow_empty=False,
        max_length=services.MAX_PICK_LINES,
        help_text="Pack only these pick lines (ids); by default every picked line of the order at the warehouse.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The order: one in the caller's scope, or one with stock held at the (scoped) warehouse, so a site that
        ships another region's order may pack it. Anything else reads as not existing."""
        raw = attrs["order"].strip()
        match = Q(pk=int(raw)) if raw.isdigit() and int(raw) <= MAX_BIGINT else Q(number=raw)
        warehouse = attrs["warehouse"]
        served_here = Allocation.objects.filter(line__order=OuterRef("pk"), warehouse=warehouse)
        visible = scope_queryset(SalesOrder.objects.all(), self.context.get("user"))
        order = (SalesOrder.objects.filter(match).filter(Q(pk__in=visible.values("pk")) | Q(Exists(served_here)))
                 .first())
        if order is None:
            raise serializers.ValidationError({"order": [f"No order {raw}."]})
        attrs["order"] = order
        documents = [row["kind"] for row in attrs.get("documents", [])]
        if len(documents) != len(set(documents)):
            raise serializers.ValidationError({"documents": ["List each kind of document once."]})
        return attrs


class ShipmentShipInput(StrictInputSerializer):
    carrier = serializers.SlugRelatedField(slug_field="code", queryset=Carrier.objects.all(), required=False,
                                           allow_null=True, help_text="Replaces the shipment's carrier when given.")
    tracking_number = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                            help_text="Replaces the shipment's tracking number when given.")


class ShipmentDeliverInput(StrictInputSerializer):
    delivered_at = serializers.DateTimeField(required=False, allow_null=True,
                                             help_text="When the carrier delivered (ISO 8601 with offset); now by "
                                                       "default.")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                 help_text="Who signed, where it was left...")


class ShipmentDocumentInput(DocumentInput):
    pass


class ShipmentCancelInput(StrictInputSerializer):
    pass


# --- output ---------------------------------------------------------------------------------------------


class ShipmentLineOutput(serializers.ModelSerializer[ShipmentLine]):
    """What one pick line put in the shipment, in the item's base unit. ``unit_cost`` and ``value`` (the cost of
    the goods shipped, positive) are the ledger move's, set when the shipment ships."""

    sku = serializers.CharField(source="item.sku")
    base_uom = serializers.CharField(source="item.base_uom.code")
    line_no = serializers.IntegerField(source="order_line.line_no", help_text="The order line.")
    location = serializers.CharField(source="location.code")
    lot = serializers.CharField(source="lot.lot_number", default=None, allow_null=True)
    pick_line = serializers.IntegerField(source="pick_line_id")
    stock_move = serializers.IntegerField(source="stock_move_id", allow_null=True)

    class Meta:
        model = ShipmentLine
        fields = ["id", "line_no", "sku", "quantity", "base_uom", "location", "lot", "pick_line", "unit_cost",
                  "value", "stock_move"]


class PackageOutput(serializers.ModelSerializer[Package]):
    class Meta:
        model = Package
        fields = ["number", "weight_kg", "length_cm", "width_cm", "height_cm", "tracking_number"]


class ShipmentDocumentOutput(serializers.ModelSerializer[ShipmentDocument]):
    attached_by = serializers.CharField(source="attached_by.username", default=None, allow_null=True)

    class Meta:
        model = ShipmentDocument
        fields = ["kind", "reference", "attached_by", "created_at"]


class ShipmentOutput(serializers.ModelSerializer[Shipment]):
    """A shipment: the order and warehouse, carrier and tracking, status and times, lines, packages, documents."""

    order = serializers.CharField(source="order.number")
    order_id = serializers.IntegerField()
    customer = serializers.CharField(source="order.customer.code")
    ship_to = serializers.CharField(source="order.ship_to.code")
    warehouse = serializers.CharField(source="warehouse.code")
    carrier = serializers.CharField(source="carrier.code", default=None, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    shipped_by = serializers.CharField(source="shipped_by.username", default=None, allow_null=True)
    lines = ShipmentLineOutput(many=True)
    packages = PackageOutput(many=True)
    documents = ShipmentDocumentOutput(many=True)

    class Meta:
        model = Shipment
        fields = ["id", "number", "status", "order", "order_id", "customer", "ship_to", "warehouse", "carrier",
                  "tracking_number", "created_by", "created_at", "shipped_by", "shipped_at", "ship_date",
                  "delivered_at", "delivery_note", "lines", "packages", "documents"]


class ShipmentDetailOutput(ShipmentOutput):
    """A shipment with the documents still missing before it may ship (by the warehouse's policy)."""

    documents_missing = serializers.SerializerMethodField()

    class Meta(ShipmentOutput.Meta):
        fields = [*ShipmentOutput.Meta.fields, "documents_missing"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_documents_missing(self, shipment: Shipment) -> list[str]:
        if shipment.status != ShipmentStatus.PACKED:
            return []
        return services.documents_missing(shipment)


# --- the view -------------------------------------------------------------------------------------------


class ShipmentFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    status = django_filters.ChoiceFilter(choices=ShipmentStatus.choices)
    order = django_filters.CharFilter(method="filter_order", help_text="The order's id or number.")

    class Meta:
        model = Shipment
        fields = ["warehouse", "status", "order"]

    def filter_order(self, queryset: QuerySet[Shipment], name: str, value: str) -> QuerySet[Shipment]:
        value = value.strip()
        if value.isdigit():
            return queryset.filter(order_id=int(value)) if int(value) <= MAX_BIGINT else queryset.none()
        return queryset.filter(order__number=value)


class ShipmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Shipments of the caller's warehouses, newest first, with their lines, packages and documents."""

    # POST actions whose bodies go through ``idempotent`` too (the schema documents their Idempotency-Key).
    idempotent_actions = frozenset(ACTIONS)

    serializer_class = ShipmentOutput
    filterset_class = ShipmentFilter
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action_permission(self) -> str | None:
        return "orders.change_shipment" if self.action in ACTIONS else None

    def base_queryset(self) -> QuerySet[Shipment]:
        if self.action in ACTIONS:
            return Shipment.objects.all()  # the service reads what it needs; the answer is read afresh
        return services.shipments().order_by("-id")

    def get_serializer_class(self) -> Any:
        return {
            "retrieve": ShipmentDetailOutput,
            "create": ShipmentCreateInput,
            "ship": ShipmentShipInput,
            "deliver": ShipmentDeliverInput,
            "documents": ShipmentDocumentInput,
            "cancel": ShipmentCancelInput,
        }.get(self.action, ShipmentOutput)

    def _input(self, serializer_class: type[StrictInputSerializer]) -> dict[str, Any]:
        body = self.request.data
        data = serializer_class(data={} if body is None else body, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = data.validated_data  # the stubs type it Any; a Serializer's is a dict
        return fields

    def _detail(self, shipment_id: int, code: int = status.HTTP_200_OK) -> Response:
        fresh = scope_queryset(services.shipments(), self.request.user).get(pk=shipment_id)
        return Response(ShipmentDetailOutput(fresh).data, status=code)

    @extend_schema(responses=ShipmentDetailOutput)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(ShipmentDetailOutput(self.get_object()).data)

    @extend_schema(request=ShipmentCreateInput, responses={201: ShipmentDetailOutput})
    def create(self, request: Request) -> Response:
        """Pack the order's picked lines at the warehouse into a new ``packed`` shipment with its packages; the
        packing slip is attached at once. Nothing picked there yet is 409 ``nothing_picked``."""

        def produce() -> Response:
            fields = self._input(ShipmentCreateInput)
            shipment = services.shipment_create(
                order=fields["order"], warehouse=fields["warehouse"], actor=request.user,
                carrier=fields.get("carrier"), tracking_number=fields["tracking_number"],
                packages=[dict(row) for row in fields["packages"]],
                documents=[dict(row) for row in fields.get("documents", [])],
                pick_line_ids=fields.get("pick_lines"),
            )
            return self._detail(shipment.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=ShipmentShipInput, responses=ShipmentDetailOutput)
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str | None = None) -> Response:
        """Ship a packed shipment: its stock leaves the warehouse's ledger at the current cost. A carrier is
        required (400 ``carrier_required``) and every document the warehouse's policy requires (409
        ``documents_missing``, naming them); shipping twice is 409 ``invalid_transition``."""
        shipment = self.get_object()

        def produce() -> Response:
            fields = self._input(ShipmentShipInput)
            services.shipment_ship(shipment=shipment, actor=request.user, carrier=fields.get("carrier"),
                                   tracking_number=fields.get("tracking_number"))
            return self._detail(shipment.pk)

        return idempotent(request, produce)

    @extend_schema(request=ShipmentDeliverInput, responses=ShipmentDetailOutput)
    @action(detail=True, methods=["post"])
    def deliver(self, request: Request, pk: str | None = None) -> Response:
        """Confirm delivery of a shipped shipment. When every line of the order has shipped in full and each of
        its shipments is delivered, the order is ``delivered``."""
        shipment = self.get_object()

        def produce() -> Response:
            fields = self._input(ShipmentDeliverInput)
            services.shipment_deliver(shipment=shipment, actor=request.user, delivered_at=fields.get("delivered_at"),
                                      note=fields["note"])
            return self._detail(shipment.pk)

        return idempotent(request, produce)

    @extend_schema(request=ShipmentDocumentInput, responses=ShipmentDetailOutput)
    @action(detail=True, methods=["post"])
    def documents(self, request: Request, pk: str | None = None) -> Response:
        """Attach a document to a packed shipment by its reference; the same kind again replaces the reference."""
        shipment = self.get_object()

        def produce() -> Response:
            fields = self._input(ShipmentDocumentInput)
            services.shipment_document_attach(shipment=shipment, kind=fields["kind"], reference=fields["reference"],
                                              actor=request.user)
            return self._detail(shipment.pk)

        return idempotent(request, produce)

    @extend_schema(request=ShipmentCancelInput, responses=ShipmentDetailOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a packed shipment: its picked lines wait to be packed again. A shipment that left is 409
        ``invalid_transition``."""
        shipment = self.get_object()

        def produce() -> Response:
            self._input(ShipmentCancelInput)
            services.shipment_cancel(shipment=shipment, actor=request.user)
            return self._detail(shipment.pk)

        return idempotent(request, produce)


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the orders router."""
    router.register("shipments", ShipmentViewSet, basename="shipment")
