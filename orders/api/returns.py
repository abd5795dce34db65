"""Orders API: returns (``returns/``): authorized against shipped order lines, received with a disposition per
line, or cancelled before anything came back.

POST ``returns/`` authorizes a return (RMA) of shipped lines of an order (by id or number); ``receive/`` takes
what came back, line by line, with its disposition (``restock``, ``quarantine``, ``damaged``), each a ledger move
at the cost the goods shipped at; ``cancel/`` ends an authorization nothing came back for. Every POST accepts an
``Idempotency-Key``.

A return belongs to the warehouse that receives it and is seen by whoever's scope covers that warehouse: a
return outside the caller's scope answers 404, and an order or warehouse outside it is refused (400) exactly
like one that does not exist. Authorizing and cancelling need ``orders.add_returnauthorization`` (customer
service); receiving ``orders.change_returnauthorization`` (warehouse operators).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp.api.fields import ScopedSlugRelatedField
from erp.api.idempotency import idempotent
from erp.api.serializers import StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.exceptions import ValidationFailed
from erp.scoping import scope_of, scope_queryset
from orders.models import QUANTITY, Disposition, ReturnAuthorization, ReturnLine, ReturnStatus, SalesOrder
from orders.services import returns as services
from warehouses.models import Warehouse

# --- input ----------------------------------------------------------------------------------------------


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise serializers.ValidationError("Must be more than 0.")
    return value


class ReturnLineInput(StrictInputSerializer):
    """A shipped line of the order to take back: ``quantity`` in the item's base unit."""

    line_no = serializers.IntegerField(min_value=1, max_value=2_147_483_647,
                                       help_text="The order's line number.")
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in the item's base unit; at most what "
                                                              "shipped less what other returns hold.")
    lot = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default=None,
                                help_text="The lot that shipped (lot-tracked items; may be left out when the line "
                                          "shipped from one lot).")

    def validate_quantity(self, value: Decimal) -> Decimal:
        return _positive(value)


class ReturnCreateInput(StrictInputSerializer):
    """A new return (RMA) of shipped lines of an order in the caller's scope."""

    order = serializers.CharField(max_length=20, help_text="The order's id or number (SO-000042).")
    warehouse = ScopedSlugRelatedField(
        slug_field="code", queryset=Warehouse.objects.select_related("region", "legal_entity"), required=False,
        allow_null=True, default=None,
        help_text="Where the goods come back (a warehouse of the legal entity that shipped them); default the "
                  "warehouse that shipped most of the lines.")
    reason = serializers.CharField(max_length=services.MAX_REASON, required=False, allow_blank=True, default="",
                                   help_text="Why the customer returns the goods.")
    # ``many_init`` is what ``many=True`` calls: called directly, the list serializer's ``max_length`` type-checks.
    lines = ReturnLineInput.many_init(allow_empty=False, max_length=services.MAX_LINES)

    def validate_order(self, value: str) -> SalesOrder:
        orders = scope_queryset(SalesOrder.objects.select_related("customer"), self.context.get("user"))
        found = (orders.filter(pk=int(value)) if value.isdigit() and len(value) < 19
                 else orders.filter(number=value)).first()
        if found is None:
            raise serializers.ValidationError(f"No order {value}.")
        return found


class ReceiptLineInput(StrictInputSerializer):
    """What came back of one line of the return."""

    line_no = serializers.IntegerField(min_value=1, max_value=2_147_483_647,
                                       help_text="The return's line number.")
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, at most the line's authorized quantity.")
    disposition = serializers.ChoiceField(
        choices=Disposition.choices, required=False, allow_blank=True, default="",
        help_text="restock (available), quarantine (quality hold) or damaged. Required where the warehouse "
                  "inspects returns (``returns.inspection_required``); elsewhere a line without one is restocked.")
    location = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True, default=None,
                                     help_text="Where it was received (a location code of the return's "
                                               "warehouse); default the warehouse's receiving location.")
    note = serializers.CharField(max_length=services.MAX_NOTE, required=False, allow_blank=True, default="",
                                 help_text="What the inspection found.")

    def validate_quantity(self, value: Decimal) -> Decimal:
        return _positive(value)


class ReturnReceiveInput(StrictInputSerializer):
    """The receipt: each line that came back, with its disposition. Lines not listed came back with nothing."""

    # ``many_init`` is what ``many=True`` calls: called directly, the list serializer's ``max_length`` type-checks.
    lines = ReceiptLineInput.many_init(allow_empty=False, max_length=services.MAX_LINES)


class ReturnCancelInput(StrictInputSerializer):
    pass


# --- output ---------------------------------------------------------------------------------------------


class BlankAsNullField(serializers.CharField):
    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]  # null for a blank value; the stubs' CharField answers str only
        return str(value) if value else None


class ReturnLineOutput(serializers.ModelSerializer[ReturnLine]):
    """A line: ``quantity`` authorized and ``received_quantity`` in the item's base unit ``base_uom``; what
    came back has its ``disposition`` and the ``location`` it was received at."""

    order_line_no = serializers.IntegerField(source="order_line.line_no", help_text="The order's line number.")
    sku = serializers.CharField(source="item.sku")
    base_uom = serializers.CharField(source="item.base_uom.code")
    lot = serializers.CharField(source="lot.lot_number", default=None, allow_null=True)
    disposition = BlankAsNullField(allow_null=True, help_text="restock, quarantine or damaged once received.")
    location = serializers.CharField(source="location.code", default=None, allow_null=True)

    class Meta:
        model = ReturnLine
        fields = ["line_no", "order_line_no", "sku", "base_uom", "lot", "quantity", "received_quantity",
                  "disposition", "location", "note"]


class ReturnOutput(serializers.ModelSerializer[ReturnAuthorization]):
    """A return (RMA): the order it comes from, the warehouse that receives it, its status and lines."""

    order = serializers.CharField(source="order.number", help_text="The order's number.")
    order_id = serializers.IntegerField()
    customer = serializers.CharField(source="customer.code")
    warehouse = serializers.CharField(source="warehouse.code")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    received_by = serializers.CharField(source="received_by.username", default=None, allow_null=True)
    lines = ReturnLineOutput(many=True)

    class Meta:
        model = ReturnAuthorization
        fields = ["id", "number", "status", "order", "order_id", "customer", "warehouse", "reason", "created_by",
                  "created_at", "received_by", "received_at", "lines"]


# --- the view -------------------------------------------------------------------------------------------


class ReturnFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    status = django_filters.ChoiceFilter(choices=ReturnStatus.choices)
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    order = django_filters.CharFilter(method="filter_order", help_text="The order's id or number.")
    customer = django_filters.CharFilter(field_name="customer__code")

    class Meta:
        model = ReturnAuthorization
        fields = ["status", "warehouse", "order", "customer"]

    def filter_order(self, queryset: QuerySet[ReturnAuthorization], name: str,
                     value: str) -> QuerySet[ReturnAuthorization]:
        if value.isdigit() and len(value) < 19:
            return queryset.filter(order_id=int(value))
        return queryset.filter(order__number=value)


class ReturnViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Returns received at the caller's warehouses, newest first, with their lines."""

    # POST actions whose bodies go through ``idempotent`` too (the schema documents their Idempotency-Key).
    idempotent_actions = frozenset({"receive", "cancel"})

    serializer_class = ReturnOutput
    filterset_class = ReturnFilter
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action_permission(self) -> str | None:
        return {"receive": "orders.change_returnauthorization",
                "cancel": "orders.add_returnauthorization"}.get(self.action or "")

    def base_queryset(self) -> QuerySet[ReturnAuthorization]:
        if self.action in ("receive", "cancel"):
            return ReturnAuthorization.objects.all()  # the service reads what it needs; the answer is read afresh
        return services.return_authorizations().order_by("-id")

    def get_serializer_class(self) -> Any:
        return {
            "create": ReturnCreateInput,
            "receive": ReturnReceiveInput,
            "cancel": ReturnCancelInput,
        }.get(self.action, ReturnOutput)

    def _input(self, serializer_class: type[StrictInputSerializer]) -> dict[str, Any]:
        body = self.request.data
        data = serializer_class(data={} if body is None else body, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = data.validated_data  # the stubs type it Any; a Serializer's is a dict
        return fields

    def _detail(self, rma_id: int, code: int = status.HTTP_200_OK) -> Response:
        fresh = scope_queryset(services.return_authorizations(), self.request.user).get(pk=rma_id)
        return Response(ReturnOutput(fresh).data, status=code)

    @extend_schema(request=ReturnCreateInput, responses={201: ReturnOutput})
    def create(self, request: Request) -> Response:
        """Authorize a return of shipped lines of an order. More than shipped (less what other returns hold) is
        400 ``return_exceeds_shipped``; a line that has not shipped 400 ``line_not_shipped``."""

        def produce() -> Response:
            fields = self._input(ReturnCreateInput)
            order, warehouse = fields["order"], fields["warehouse"]
            if warehouse is None:
                warehouse = services.return_warehouse_default(order=order,
                                                              line_nos=[row["line_no"] for row in fields["lines"]])
                if warehouse is not None and not scope_of(request.user).covers_warehouse(warehouse.pk):
                    raise ValidationFailed(detail={"warehouse": [
                        f"The goods shipped from {warehouse.code}, outside your scope; name the warehouse of your "
                        f"scope that receives them."]})
            rma = services.return_authorize(
                order=order, warehouse=warehouse, reason=fields["reason"], actor=request.user,
                lines=[services.ReturnLineSpec(line_no=row["line_no"], quantity=row["quantity"],
                                               lot_number=row.get("lot") or None) for row in fields["lines"]],
            )
            return self._detail(rma.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=ReturnReceiveInput, responses=ReturnOutput)
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str | None = None) -> Response:
        """Receive an authorized return: each line that came back is posted in as returned stock at the cost it
        shipped at and moved by its disposition to available (restock), quality hold (quarantine) or damaged;
        quarantined and damaged goods raise a ``damaged_goods`` exception. A line without a disposition where the
        warehouse inspects returns is 400 ``disposition_required``; receiving a return that is not authorized
        (received, cancelled) is 409 ``invalid_transition``."""
        rma = self.get_object()

        def produce() -> Response:
            fields = self._input(ReturnReceiveInput)
            services.return_receive(rma=rma, actor=request.user, lines=[
                services.ReceiptLineSpec(line_no=row["line_no"], quantity=row["quantity"],
                                         disposition=row["disposition"], location=row.get("location") or None,
                                         note=row["note"]) for row in fields["lines"]])
            return self._detail(rma.pk)

        return idempotent(request, produce)

    @extend_schema(request=ReturnCancelInput, responses=ReturnOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel an authorized return nothing came back for; its quantities may be authorized again. Anything
        but an authorized return is 409 ``invalid_transition``."""
        rma = self.get_object()

        def produce() -> Response:
            self._input(ReturnCancelInput)
            services.return_cancel(rma=rma, actor=request.user)
            return self._detail(rma.pk)

        return idempotent(request, produce)


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the orders router."""
    router.register("returns", ReturnViewSet, basename="return")
