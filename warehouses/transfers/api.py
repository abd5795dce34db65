"""Transfers API (``transfers/``): request, submit, dispatch, receive and cancel transfers between warehouses.

A transfer is seen by whoever's scope covers either of its warehouses. Requesting one needs
``transfers.add_transfer`` and one of its two warehouses in the caller's scope (the other may lie outside it:
a Boston operator asks Atlanta for stock); with neither in scope the answer is 404, as for a transfer outside
the scope. Submitting and cancelling need ``transfers.add_transfer``; dispatching (``transfers.change_transfer``)
needs the source in scope, receiving the target. Every POST accepts an ``Idempotency-Key``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.idempotency import idempotent
from erp.api.serializers import StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.exceptions import NotFound
from erp.scoping import scope_of, scope_queryset
from inventory.models import Item
from warehouses.models import Warehouse
from warehouses.transfers import rules, services
from warehouses.transfers.models import (
    QUANTITY,
    Transfer,
    TransferLine,
    TransferStatus,
    TransferWriteOff,
    TransferWriteOffLine,
)

# --- input ----------------------------------------------------------------------------------------------


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise serializers.ValidationError("Must be more than 0.")
    return value


class TransferLineInput(StrictInputSerializer):
    """One line as requested: ``quantity`` of ``sku`` in ``uom`` (its base unit when left out)."""

    sku = serializers.CharField(max_length=40)
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in ``uom``.")
    uom = serializers.CharField(max_length=16, required=False, allow_blank=True, default="",
                                help_text="One of the item's units; its base unit when left out.")
    lot = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default=None,
                                help_text="A lot of a lot-tracked item, when that lot is wanted; otherwise the "
                                          "source picks first expiry first at dispatch.")

    def validate_quantity(self, value: Decimal) -> Decimal:
        return _positive(value)


class TransferCreateInput(StrictInputSerializer):
    """A new transfer (a draft) between two warehouses, one of them in the caller's scope."""

    from_warehouse = serializers.CharField(max_length=32, help_text="The sending warehouse's code.")
    to_warehouse = serializers.CharField(max_length=32, help_text="The receiving warehouse's code.")
    requested_date = serializers.DateField(required=False, allow_null=True, default=None,
                                           help_text="When it should ship; today at the source when left out.")
    note = serializers.CharField(max_length=services.MAX_NOTE, required=False, allow_blank=True, default="")
    # ``many_init`` is what ``many=True`` calls: called directly, the list serializer's ``max_length`` type-checks.
    lines = TransferLineInput.many_init(allow_empty=False, max_length=services.MAX_LINES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Resolve both warehouses (an unknown code is 400; neither in the caller's scope is 404) and every SKU
        (one query each)."""
        codes = {attrs["from_warehouse"], attrs["to_warehouse"]}
        found = {w.code: w for w in Warehouse.objects.select_related("region", "legal_entity").filter(code__in=codes)}
        errors = {field: [f"No warehouse {attrs[field]}."] for field in ("from_warehouse", "to_warehouse")
                  if attrs[field] not in found}
        if errors:
            raise serializers.ValidationError(errors)
        scope = scope_of(self.context.get("user"))
        if not any(scope.covers_warehouse(w.pk) for w in found.values()):
            raise NotFound(detail={"warehouse": ["Neither warehouse is in your scope."]})
        skus = {row["sku"] for row in attrs["lines"]}
        items = {item.sku: item for item in scope_queryset(Item.objects.select_related("base_uom"),
                                                           self.context.get("user")).filter(sku__in=skus)}
        line_errors = [{"sku": [f"No item {row['sku']}."]} if row["sku"] not in items else {}
                       for row in attrs["lines"]]
        if any(line_errors):
            raise serializers.ValidationError({"lines": line_errors})
        attrs["from_warehouse"] = found[attrs["from_warehouse"]]
        attrs["to_warehouse"] = found[attrs["to_warehouse"]]
        attrs["lines"] = [services.TransferLineSpec(item=items[row["sku"]], quantity=row["quantity"],
                                                    uom=row.get("uom") or "", lot_number=row.get("lot") or None)
                          for row in attrs["lines"]]
        return attrs


class TransferSubmitInput(StrictInputSerializer):
    pass


class TransferCancelInput(StrictInputSerializer):
    reason = serializers.CharField(max_length=services.MAX_NOTE, required=False, allow_blank=True, default="",
                                   help_text="Why it is cancelled.")


class DispatchLineInput(StrictInputSerializer):
    line_no = serializers.IntegerField(min_value=1, max_value=2_147_483_647)
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in the item's base unit.")
    lot = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default=None,
                                help_text="The lot picked (lot-tracked items); first expiry first when left out.")
    location = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True,
                                     default=None, help_text="The location picked from; by pick path when left out.")

    def validate_quantity(self, value: Decimal) -> Decimal:
        return _positive(value)


class TransferDispatchInput(StrictInputSerializer):
    """What leaves, per line; leave ``lines`` out to send every line in full."""

    lines = DispatchLineInput.many_init(required=False, allow_empty=False, max_length=services.MAX_LINES * 4)


class ReceiveLineInput(StrictInputSerializer):
    line_no = serializers.IntegerField(min_value=1, max_value=2_147_483_647)
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in the item's base unit.")
    status = serializers.ChoiceField(choices=list(rules.RECEIPT_STATUSES), required=False, default="available",
                                     help_text="available (default), quality_hold or damaged.")

    def validate_quantity(self, value: Decimal) -> Decimal:
        return _positive(value)


class TransferReceiveInput(StrictInputSerializer):
    """What arrived, per line and status (a line may come twice: 9 available and 1 damaged)."""

    lines = ReceiveLineInput.many_init(allow_empty=False, max_length=services.MAX_LINES * 3)


class WriteOffLineInput(StrictInputSerializer):
    line_no = serializers.IntegerField(min_value=1, max_value=2_147_483_647)
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in the item's base unit; at most what is "
                                                              "still in transit and not already being written off.")

    def validate_quantity(self, value: Decimal) -> Decimal:
        return _positive(value)


class TransferWriteOffInput(StrictInputSerializer):
    """What was lost in transit and not found, per line, and why: written off once approved."""

    reason = serializers.CharField(max_length=services.MAX_NOTE, help_text="Why it is written off.")
    lines = WriteOffLineInput.many_init(allow_empty=False, max_length=services.MAX_LINES)


# --- output ---------------------------------------------------------------------------------------------


class TransferLineOutput(serializers.ModelSerializer[TransferLine]):
    """A line in the item's base unit: requested ``quantity``, then what was dispatched and received; what is
    still ``in_transit``, and the differences a receipt found (``damaged_quantity``, ``over_quantity``)."""

    sku = serializers.CharField(source="item.sku")
    uom = serializers.CharField(source="item.base_uom.code", help_text="The item's base unit: every quantity's.")
    lot = serializers.CharField(source="lot.lot_number", default=None, allow_null=True)
    in_transit = serializers.DecimalField(**QUANTITY, read_only=True)

    class Meta:
        model = TransferLine
        fields = ["line_no", "sku", "quantity", "uom", "uom_quantity", "uom_code", "lot", "dispatched_quantity",
                  "received_quantity", "in_transit", "damaged_quantity", "over_quantity", "written_off_quantity"]


class WriteOffLineOutput(serializers.ModelSerializer[TransferWriteOffLine]):
    line_no = serializers.IntegerField(source="line.line_no")
    sku = serializers.CharField(source="line.item.sku")

    class Meta:
        model = TransferWriteOffLine
        fields = ["line_no", "sku", "quantity"]


class WriteOffOutput(serializers.ModelSerializer[TransferWriteOff]):
    """A write-off of what was lost in transit: ``pending_approval``, then ``posted`` or ``rejected``."""

    requested_by = serializers.CharField(source="requested_by.username", default=None, allow_null=True)
    approval_request = serializers.IntegerField(source="approval_request_id", allow_null=True)
    lines = WriteOffLineOutput(many=True)

    class Meta:
        model = TransferWriteOff
        fields = ["id", "number", "status", "reason", "value", "currency", "approval_request", "requested_by",
                  "created_at", "decided_at", "lines"]


class TransferOutput(serializers.ModelSerializer[Transfer]):
    from_warehouse = serializers.CharField(source="from_warehouse.code")
    to_warehouse = serializers.CharField(source="to_warehouse.code")
    carrier = serializers.CharField(source="carrier.code", default=None, allow_null=True)
    requested_by = serializers.CharField(source="requested_by.username", default=None, allow_null=True)
    dispatched_by = serializers.CharField(source="dispatched_by.username", default=None, allow_null=True)
    approval_request = serializers.IntegerField(source="approval_request_id", allow_null=True)
    recommendation = serializers.IntegerField(source="recommendation_id", allow_null=True,
                                              help_text="The recommendation it was made from, or null.")
    lines = TransferLineOutput(many=True)
    write_offs = WriteOffOutput(many=True, help_text="Write-offs of what was lost in transit, newest first.")

    class Meta:
        model = Transfer
        fields = ["id", "number", "status", "from_warehouse", "to_warehouse", "requested_date", "expected_arrival",
                  "intercompany", "currency", "value", "carrier", "transit_days", "note", "approval_request",
                  "recommendation", "requested_by", "created_at", "submitted_at", "approved_at", "dispatched_at",
                  "dispatched_by", "received_at", "cancelled_at", "cancel_reason", "lines", "write_offs"]


# --- the view -------------------------------------------------------------------------------------------


class TransferFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    status = django_filters.ChoiceFilter(choices=TransferStatus.choices)
    from_warehouse = django_filters.CharFilter(field_name="from_warehouse__code")
    to_warehouse = django_filters.CharFilter(field_name="to_warehouse__code")
    warehouse = django_filters.CharFilter(method="filter_warehouse", help_text="Either end.")

    class Meta:
        model = Transfer
        fields = ["status", "from_warehouse", "to_warehouse", "warehouse"]

    def filter_warehouse(self, queryset: QuerySet[Transfer], name: str, value: str) -> QuerySet[Transfer]:
        return queryset.filter(from_warehouse__code=value) | queryset.filter(to_warehouse__code=value)


ACTION_PERMISSIONS = {
    "submit": "transfers.add_transfer",
    "cancel": "transfers.add_transfer",
    "dispatch_transfer": "transfers.change_transfer",
    "receive": "transfers.change_transfer",
    "write_off": "transfers.change_transfer",
}


def transfer_detail_queryset() -> QuerySet[Transfer]:
    lines = TransferLine.objects.select_related("item__base_uom", "lot").order_by("line_no")
    write_offs = (TransferWriteOff.objects.select_related("requested_by").order_by("-id")
                  .prefetch_related(Prefetch("lines", queryset=TransferWriteOffLine.objects
                                             .select_related("line__item").order_by("line__line_no"))))
    return services.transfers().select_related("dispatched_by").prefetch_related(
        Prefetch("lines", queryset=lines), Prefetch("write_offs", queryset=write_offs))


class TransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Transfers from or to the caller's warehouses, newest first, with their lines."""

    idempotent_actions = frozenset(ACTION_PERMISSIONS)

    serializer_class = TransferOutput
    filterset_class = TransferFilter
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action_permission(self) -> str | None:
        return ACTION_PERMISSIONS.get(self.action or "")

    def base_queryset(self) -> QuerySet[Transfer]:
        if self.action in ACTION_PERMISSIONS:
            return Transfer.objects.all()  # the service reads what it needs; the answer is read afresh
        return transfer_detail_queryset()

    def get_serializer_class(self) -> Any:
        return {"create": TransferCreateInput, "submit": TransferSubmitInput, "cancel": TransferCancelInput,
                "dispatch_transfer": TransferDispatchInput,
                "receive": TransferReceiveInput,
                "write_off": TransferWriteOffInput}.get(self.action or "", TransferOutput)

    def _input(self, serializer_class: type[StrictInputSerializer]) -> dict[str, Any]:
        body = self.request.data
        data = serializer_class(data={} if body is None else body, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = data.validated_data  # the stubs type it Any; a Serializer's is a dict
        return fields

    def _detail(self, transfer_id: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(TransferOutput(transfer_detail_queryset().get(pk=transfer_id)).data, status=code)

    def _at(self, transfer: Transfer, end: str) -> None:
        """The caller must have the end that acts in scope: the source dispatches, the target receives."""
        warehouse_id = transfer.from_warehouse_id if end == "from" else transfer.to_warehouse_id
        if not scope_of(self.request.user).covers_warehouse(warehouse_id):
            side = "sending" if end == "from" else "receiving"
            raise NotFound(detail={"warehouse": [f"The {side} warehouse is not in your scope."]})

    @extend_schema(request=TransferCreateInput, responses={201: TransferOutput})
    def create(self, request: Request) -> Response:
        """Request a transfer (a draft). One warehouse at both ends is 400 ``same_warehouse``; an unknown SKU,
        unit or lot 400; no carrier lane between the regions 400 ``no_carrier_lane``."""

        def produce() -> Response:
            fields = self._input(TransferCreateInput)
            transfer = services.transfer_create(actor=request.user, **fields)
            return self._detail(transfer.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=TransferSubmitInput, responses=TransferOutput)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Submit a draft: approved at once at or below ``transfers.approval_threshold`` (value at cost in the
        sending entity's currency), else ``pending_approval`` in the approval engine."""
        transfer = self.get_object()

        def produce() -> Response:
            self._input(TransferSubmitInput)
            services.transfer_submit(transfer=transfer, actor=request.user)
            return self._detail(transfer.pk)

        return idempotent(request, produce)

    @extend_schema(request=TransferDispatchInput, responses=TransferOutput)
    @action(detail=True, methods=["post"], url_path="dispatch", url_name="dispatch")
    def dispatch_transfer(self, request: Request, pk: str | None = None) -> Response:
        """Ship an approved transfer from the source (in the caller's scope) into transit at its cost. Before
        approval 409 ``invalid_transition``; more than approved 409 ``exceeds_approved``; more than the source
        has free 409 ``insufficient_stock``."""
        transfer = self.get_object()
        self._at(transfer, "from")

        def produce() -> Response:
            fields = self._input(TransferDispatchInput)
            rows = fields.get("lines")
            specs = None if rows is None else [
                services.DispatchSpec(line_no=row["line_no"], quantity=row["quantity"],
                                      lot_number=row.get("lot") or None, location=row.get("location") or None)
                for row in rows]
            services.transfer_dispatch(transfer=transfer, actor=request.user, lines=specs)
            return self._detail(transfer.pk)

        return idempotent(request, produce)

    @extend_schema(request=TransferReceiveInput, responses=TransferOutput)
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str | None = None) -> Response:
        """Receive at the target (in the caller's scope) what arrived, at the cost it carries. A short, over or
        damaged receipt raises a ``transfer_discrepancy`` exception. Not dispatched, cancelled or received: 409
        ``invalid_transition``; a line with nothing in transit 409 ``nothing_in_transit``."""
        transfer = self.get_object()
        self._at(transfer, "to")

        def produce() -> Response:
            fields = self._input(TransferReceiveInput)
            services.transfer_receive(transfer=transfer, actor=request.user, lines=[
                services.ReceiveSpec(line_no=row["line_no"], quantity=row["quantity"], status=row["status"])
                for row in fields["lines"]])
            return self._detail(transfer.pk)

        return idempotent(request, produce)

    @extend_schema(request=TransferWriteOffInput, responses=TransferOutput)
    @action(detail=True, methods=["post"], url_path="write-off", url_name="write-off")
    def write_off(self, request: Request, pk: str | None = None) -> Response:
        """Ask to write off what was lost in transit (a discrepancy not found), with a reason: it waits for the
        approval engine (the sending warehouse's supervisor, then finance) and, approved, leaves transit at the cost
        it carries. More than is still in transit is 409 ``nothing_in_transit``; a transfer not in transit 409
        ``invalid_transition``. Needs either warehouse in scope."""
        transfer = self.get_object()

        def produce() -> Response:
            fields = self._input(TransferWriteOffInput)
            services.transfer_write_off_request(transfer=transfer, actor=request.user, reason=fields["reason"], lines=[
                services.WriteOffSpec(line_no=row["line_no"], quantity=row["quantity"]) for row in fields["lines"]])
            return self._detail(transfer.pk)

        return idempotent(request, produce)

    @extend_schema(request=TransferCancelInput, responses=TransferOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a transfer before dispatch (a pending approval is cancelled with it); after it 409
        ``invalid_transition``."""
        transfer = self.get_object()

        def produce() -> Response:
            fields = self._input(TransferCancelInput)
            services.transfer_cancel(transfer=transfer, actor=request.user, reason=fields["reason"])
            return self._detail(transfer.pk)

        return idempotent(request, produce)


router = SimpleRouter(trailing_slash=True)
router.register("transfers", TransferViewSet, basename="transfer")
urlpatterns = router.urls
