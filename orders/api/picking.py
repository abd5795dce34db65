"""Orders API: pick lists (``pick-lists/``) per warehouse, confirmed line by line.

POST ``pick-lists/`` lists what is allocated at a warehouse and not yet on a list: one order's
(``{"warehouse", "order"}``, the order by id or number) or a wave of every order shipping by a cut-off date
(``{"warehouse", "wave_cutoff"}``), each line at a location, in walking order (location path). Nothing to
list is 409 ``nothing_to_pick``. ``confirm/`` takes what was picked for every line not cancelled,
``{"lines": [{"id" (or "sequence"), "picked_quantity", "lot"}]}``: 0 up to the line's quantity (more is 400
``over_pick``), the lot for a lot-tracked item (default the one asked for). A short line releases what was
not found, which the order then looks for elsewhere in the network; what is still short raises a
``shortage`` exception at the picking warehouse. ``cancel/`` puts an open list's allocations back to wait for
another list. Every POST accepts an ``Idempotency-Key``.

A pick list belongs to its warehouse: outside the caller's warehouses it answers 404, and a warehouse
outside them is refused (400) exactly like one that does not exist. An order is found when it is in the
caller's scope or has stock allocated at the chosen warehouse (a warehouse picks every order it ships,
whichever region took it). Listing needs ``orders.add_picklist``; confirming and cancelling
``orders.change_picklist``.
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

from erp.api.fields import ScopedSlugRelatedField
from erp.api.idempotency import idempotent
from erp.api.serializers import StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.scoping import scope_queryset
from orders.models import QUANTITY, PickList, PickListKind, PickListLine, PickListStatus
from orders.services import picking as services
from warehouses.models import Warehouse

# --- input ----------------------------------------------------------------------------------------------


class PickListCreateInput(StrictInputSerializer):
    """A pick list at one warehouse of the caller's: one order's allocated stock, or a wave up to a cut-off."""

    warehouse = ScopedSlugRelatedField(slug_field="code", queryset=Warehouse.objects.select_related("region"),
                                       help_text="A warehouse code in your scope.")
    order = serializers.CharField(max_length=20, required=False, allow_null=True, allow_blank=True,
                                  help_text="The order's id or number (SO-000042): list its stock at the warehouse.")
    wave_cutoff = serializers.DateField(required=False, allow_null=True,
                                        help_text="List every order's stock at the warehouse shipping on or before "
                                                  "this local date.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        value, cutoff = (attrs.get("order") or "").strip(), attrs.get("wave_cutoff")
        if bool(value) == (cutoff is not None):
            raise serializers.ValidationError({"non_field_errors": [
                "Give either an order or a wave cut-off date, not both or neither."]})
        attrs["order"] = None
        if value:
            attrs["order"] = services.order_to_pick(value, attrs["warehouse"], self.context.get("user"))
            if attrs["order"] is None:
                raise serializers.ValidationError({"order": [f"No order {value}."]})
        return attrs


class PickLineAnswerInput(StrictInputSerializer):
    """What was picked for one line, named by ``id`` or by ``sequence``."""

    id = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_ID, help_text="The line's id.")
    sequence = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1,
                                        help_text="Or the line's sequence on the list.")
    picked_quantity = serializers.DecimalField(**QUANTITY, help_text="0 up to the line's quantity, in the item's "
                                                                     "base unit.")
    lot = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True,
                                help_text="For a lot-tracked item: the lot picked (default the one asked for).")

    def validate_picked_quantity(self, value: Decimal) -> Decimal:
        if value < 0:
            raise serializers.ValidationError("Must be 0 or more: pick 0 for a line where nothing was found.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("id" in attrs) == ("sequence" in attrs):
            raise serializers.ValidationError({"id": ["Name the line by its id or by its sequence."]})
        return attrs


class PickListConfirmInput(StrictInputSerializer):
    """An answer for every line of the list not cancelled."""

    # ``many_init`` is what ``many=True`` calls: called directly, the list serializer's ``max_length`` type-checks.
    lines = PickLineAnswerInput.many_init(allow_empty=False, max_length=services.MAX_LINES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["answers"] = [services.PickAnswer(picked_quantity=row["picked_quantity"], line_id=row.get("id"),
                                                sequence=row.get("sequence"), lot_number=row.get("lot") or None)
                            for row in attrs["lines"]]
        return attrs


class PickListCancelInput(StrictInputSerializer):
    pass


# --- output ---------------------------------------------------------------------------------------------


class PickListLineOutput(serializers.ModelSerializer[PickListLine]):
    """Pick ``quantity`` (in the item's base unit) of ``sku`` at ``location`` (and ``lot``) for line ``line_no`` of
    ``order``; once confirmed, ``picked_quantity`` from ``picked_lot``. ``status``: ``open``, ``picked``,
    ``short`` (picked less) or ``cancelled`` (its order was cancelled)."""

    location = serializers.CharField(source="location.code")
    location_path = serializers.CharField(source="location.path")
    sku = serializers.CharField(source="item.sku")
    base_uom = serializers.CharField(source="item.base_uom.code")
    lot = serializers.CharField(source="lot.lot_number", default=None, allow_null=True)
    picked_lot = serializers.CharField(source="picked_lot.lot_number", default=None, allow_null=True)
    order = serializers.CharField(source="order_line.order.number")
    line_no = serializers.IntegerField(source="order_line.line_no")

    class Meta:
        model = PickListLine
        fields = ["id", "sequence", "location", "location_path", "sku", "base_uom", "lot", "quantity",
                  "picked_quantity", "picked_lot", "status", "order", "line_no"]


class PickListOutput(serializers.ModelSerializer[PickList]):
    """A pick list: its warehouse, what it lists (one order, or a wave up to ``wave_cutoff``) and its status
    (``open``, ``picked``, ``cancelled``)."""

    warehouse = serializers.CharField(source="warehouse.code")
    order = serializers.CharField(source="order.number", default=None, allow_null=True)
    line_count = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    picked_by = serializers.CharField(source="picked_by.username", default=None, allow_null=True)

    class Meta:
        model = PickList
        fields = ["id", "number", "warehouse", "kind", "order", "wave_cutoff", "status", "line_count", "created_by",
                  "created_at", "picked_by", "picked_at"]


class PickListDetailOutput(PickListOutput):
    """A pick list with its lines in walking order."""

    lines = PickListLineOutput(many=True)

    class Meta(PickListOutput.Meta):
        fields = [*PickListOutput.Meta.fields, "lines"]


# --- the view -------------------------------------------------------------------------------------------


class PickListFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    status = django_filters.ChoiceFilter(choices=PickListStatus.choices)
    kind = django_filters.ChoiceFilter(choices=PickListKind.choices)
    order = django_filters.CharFilter(method="filter_order", help_text="Lists with a line of this order (number).")

    class Meta:
        model = PickList
        fields = ["warehouse", "status", "kind", "order"]

    def filter_order(self, queryset: QuerySet[PickList], name: str, value: str) -> QuerySet[PickList]:
        return queryset.filter(pk__in=PickListLine.objects.filter(order_line__order__number=value)
                               .values("pick_list_id"))


class PickListViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Pick lists of the caller's warehouses, newest first."""

    # POST actions whose bodies go through ``idempotent`` too (the schema documents their Idempotency-Key).
    idempotent_actions = frozenset({"confirm", "cancel"})

    serializer_class = PickListOutput
    filterset_class = PickListFilter
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action_permission(self) -> str | None:
        return "orders.change_picklist" if self.action in ("confirm", "cancel") else None

    def base_queryset(self) -> QuerySet[PickList]:
        if self.action in ("confirm", "cancel"):
            return PickList.objects.all()  # the service reads what it needs; the answer is read afresh
        queryset = services.pick_list_headers().order_by("-id")
        if self.action == "list":
            return queryset
        return queryset.prefetch_related(Prefetch("lines", queryset=services.pick_list_lines()))

    def get_serializer_class(self) -> Any:
        return {
            "retrieve": PickListDetailOutput,
            "create": PickListCreateInput,
            "confirm": PickListConfirmInput,
            "cancel": PickListCancelInput,
        }.get(self.action, PickListOutput)

    def _input(self, serializer_class: type[StrictInputSerializer]) -> dict[str, Any]:
        body = self.request.data
        data = serializer_class(data={} if body is None else body, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = data.validated_data  # the stubs type it Any; a Serializer's is a dict
        return fields

    def _detail(self, pick_list_id: int, code: int = status.HTTP_200_OK) -> Response:
        fresh = (scope_queryset(services.pick_list_headers(), self.request.user)
                 .prefetch_related(Prefetch("lines", queryset=services.pick_list_lines())).get(pk=pick_list_id))
        return Response(PickListDetailOutput(fresh).data, status=code)

    @extend_schema(responses=PickListDetailOutput)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(PickListDetailOutput(self.get_object()).data)

    @extend_schema(request=PickListCreateInput, responses={201: PickListDetailOutput})
    def create(self, request: Request) -> Response:
        """List one order's allocated stock at the warehouse, or a wave of every order shipping by
        ``wave_cutoff`` (oldest order first), in walking order. 409 ``nothing_to_pick`` when nothing waits."""

        def produce() -> Response:
            fields = self._input(PickListCreateInput)
            pick_list = services.pick_list_create(warehouse=fields["warehouse"], order=fields["order"],
                                                  wave_cutoff=fields.get("wave_cutoff"), actor=request.user)
            return self._detail(pick_list.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=PickListConfirmInput, responses=PickListDetailOutput)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        """Confirm what was picked, line by line. A short line releases the rest, which the order looks for
        elsewhere; what is still short raises a ``shortage`` exception at this warehouse. The list becomes
        ``picked``; confirming anything but an open list is 409 ``invalid_transition``."""
        pick_list = self.get_object()

        def produce() -> Response:
            fields = self._input(PickListConfirmInput)
            services.pick_list_confirm(pick_list=pick_list, answers=fields["answers"], actor=request.user)
            return self._detail(pick_list.pk)

        return idempotent(request, produce)

    @extend_schema(request=PickListCancelInput, responses=PickListDetailOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel an open list: its allocations wait for another list. 409 ``invalid_transition`` otherwise."""
        pick_list = self.get_object()

        def produce() -> Response:
            self._input(PickListCancelInput)
            services.pick_list_cancel(pick_list=pick_list, actor=request.user)
            return self._detail(pick_list.pk)

        return idempotent(request, produce)


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the orders router."""
    router.register("pick-lists", PickListViewSet, basename="pick-list")
