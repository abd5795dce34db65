"""Inventory API: cycle counts (``cycle-counts/``), blind while open, and inventory accuracy.

A count is opened by hand (POST ``cycle-counts/``) or by the daily plan, counted line by line
(``count/``), and submitted (``submit/``): variances within the warehouse's tolerance post at once,
the rest wait for the approval engine (``approvals/{id}/approve/``) or are sent to a recount
(``recount/``, by an approver of the count). While a count is ``open`` the system quantity never
leaves the server: ``expected_quantity``, ``variance``, ``unit_cost``, ``variance_value`` and
``within_tolerance`` are null in every answer.

References (warehouse, location, SKU) resolve inside the caller's scope, all lines of a request in
one query each, so a site outside the scope answers exactly like one that does not exist. Opening,
counting, submitting and cancelling need ``inventory.add_cyclecount``; anyone who sees a count may ask
for its recount, and the engine refuses everyone but its approvers (403 ``not_an_approver``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
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
from inventory import selectors
from inventory.api.serializers import _QUANTITY_INPUT
from inventory.models import (
    CycleCount,
    CycleCountLine,
    CycleCountOrigin,
    CycleCountStatus,
    Item,
)
from inventory.services import counts as services
from warehouses.models import Location, Warehouse

# What the counter must not see while counting: the system's figure and everything derived from it.
BLIND_FIELDS = ("expected_quantity", "variance", "unit_cost", "variance_value", "within_tolerance")
ACCURACY_DEFAULT_DAYS = 90
ACCURACY_MAX_DAYS = 366


# --- input ----------------------------------------------------------------------------------------------


class CountPairInput(StrictInputSerializer):
    """A location and item (and lot) to count; a lot-tracked item without a lot means each lot on hand there."""

    location = serializers.CharField(max_length=40, help_text="A location code of the count's warehouse.")
    sku = serializers.CharField(max_length=40)
    lot = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True,
                                help_text="Only for a lot-tracked item.")


class CountEntryInput(CountPairInput):
    """What was found at a location: ``quantity`` (0 for an empty location) in ``uom``."""

    lot = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True,
                                help_text="Required for a lot-tracked item (a lot not known yet is created when "
                                          "something was found), refused for any other.")
    quantity = serializers.DecimalField(**_QUANTITY_INPUT, min_value=Decimal(0),
                                        help_text="0 or more, in ``uom``.")
    uom = serializers.CharField(max_length=16, required=False,
                                help_text="One of the item's units; its base unit when left out.")


def _resolve_lines(rows: list[dict[str, Any]], warehouse: Warehouse, user: Any,
                   ) -> list[tuple[Location, Item, dict[str, Any]]]:
    """Each row's location (of ``warehouse``) and item, in the caller's scope: two queries for any number.

    Errors come back per line, in the shape DRF gives nested lists (``{"lines": [{}, {"sku": [...]}]}``).
    """
    codes = {row["location"] for row in rows}
    locations = {found.code: found for found in scope_queryset(
        Location.objects.select_related("warehouse"), user).filter(warehouse=warehouse, code__in=codes)}
    skus = {row["sku"] for row in rows}
    items = {found.sku: found for found in scope_queryset(
        Item.objects.select_related("base_uom"), user).filter(sku__in=skus)}
    errors: list[dict[str, list[str]]] = []
    for row in rows:
        problems = {}
        if row["location"] not in locations:
            problems["location"] = [f"{warehouse.code} has no location {row['location']}."]
        if row["sku"] not in items:
            problems["sku"] = [f"No item {row['sku']}."]
        errors.append(problems)
    if any(errors):
        raise serializers.ValidationError({"lines": errors})
    return [(locations[row["location"]], items[row["sku"]], row) for row in rows]


class CycleCountCreateInput(StrictInputSerializer):
    """A count opened by hand: the pairs to count at one warehouse."""

    warehouse = ScopedSlugRelatedField(slug_field="code", queryset=Warehouse.objects.select_related(
        "region", "legal_entity"))
    lines = CountPairInput(many=True, allow_empty=False, max_length=services.MAX_LINES)  # type: ignore[call-arg]  # many=True makes a ListSerializer, which takes max_length; the stubs check the child

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        resolved = _resolve_lines(attrs["lines"], attrs["warehouse"], self.context.get("user"))
        attrs["pairs"] = [services.CountPair(location=location, item=item, lot_number=row.get("lot") or None)
                          for location, item, row in resolved]
        return attrs


class CycleCountEntriesInput(StrictInputSerializer):
    """Counted quantities; a line already on the count is replaced, any other is added (stock found)."""

    lines = CountEntryInput(many=True, allow_empty=False, max_length=services.MAX_LINES)  # type: ignore[call-arg]  # many=True makes a ListSerializer, which takes max_length; the stubs check the child

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "lines" in attrs:
            resolved = _resolve_lines(attrs["lines"], self.context["warehouse"], self.context.get("user"))
            attrs["entries"] = [
                services.CountEntry(location=location, item=item, quantity=row["quantity"],
                                    uom=row.get("uom") or item.base_uom.code,
                                    lot_number=row.get("lot") or None)
                for location, item, row in resolved]
        return attrs


class CycleCountSubmitInput(CycleCountEntriesInput):
    """Submit the count, recording ``lines`` first when sent (the last lines counted, in one call)."""

    lines = CountEntryInput(many=True, allow_empty=False, max_length=services.MAX_LINES, required=False)  # type: ignore[call-arg]  # many=True makes a ListSerializer, which takes max_length; the stubs check the child


class CycleCountRecountInput(StrictInputSerializer):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="",
                                    help_text="For the counters and the approval trail.")


class CycleCountCancelInput(StrictInputSerializer):
    pass


class AccuracyQuery(serializers.Serializer[Any]):
    warehouse = serializers.CharField(max_length=32, required=False,
                                      help_text="Only this warehouse (a code in your scope).")
    since = serializers.DateField(required=False, help_text="First local date (inclusive); default 89 days "
                                                            "before ``until``.")
    until = serializers.DateField(required=False, help_text="Last local date (inclusive); default today.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        until = attrs.get("until") or timezone.localdate()
        since = attrs.get("since") or until - dt.timedelta(days=ACCURACY_DEFAULT_DAYS - 1)
        if since > until:
            raise serializers.ValidationError({"since": ["Must not be after until."]})
        if (until - since).days + 1 > ACCURACY_MAX_DAYS:
            raise serializers.ValidationError({"since": [f"At most {ACCURACY_MAX_DAYS} days from since to until."]})
        return {**attrs, "since": since, "until": until}


# --- output ---------------------------------------------------------------------------------------------


class CycleCountLineOutput(serializers.ModelSerializer[CycleCountLine]):
    """One line: ``counted_quantity`` in the base unit, ``uom_quantity`` and ``uom`` as counted; the expected
    quantity and the variance (valued at ``unit_cost``) are null while the count is open."""

    location = serializers.CharField(source="location.code")
    sku = serializers.CharField(source="item.sku")
    lot = serializers.CharField(source="lot.lot_number", default=None, allow_null=True)
    uom = serializers.CharField(source="uom_code", allow_null=True)
    counted_by = serializers.CharField(source="counted_by.username", default=None, allow_null=True)
    move = serializers.IntegerField(source="move_id", allow_null=True)

    class Meta:
        model = CycleCountLine
        fields = ["line_no", "location", "sku", "lot", "abc_class", "state", "counted_quantity", "uom_quantity",
                  "uom", "counted_by", "counted_at", "expected_quantity", "variance", "unit_cost", "variance_value",
                  "within_tolerance", "move"]

    def to_representation(self, instance: CycleCountLine) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["uom"] = data["uom"] or None
        # Blind unless told otherwise: a caller that forgets the context hides, never leaks.
        if self.context.get("blind", True):
            for name in BLIND_FIELDS:
                data[name] = None
        return data


class CycleCountOutput(serializers.ModelSerializer[CycleCount]):
    """A count: its warehouse, status, where it came from, how far counting got and its approval."""

    warehouse = serializers.CharField(source="warehouse.code")
    recount_of = serializers.CharField(source="recount_of.number", default=None, allow_null=True,
                                       help_text="The count whose variances this one counts again.")
    recounts = serializers.SlugRelatedField[CycleCount](slug_field="number", many=True, read_only=True,
                                            help_text="The counts that counted this one's variances again.")
    line_count = serializers.IntegerField()
    counted_count = serializers.IntegerField(help_text="Lines counted so far.")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    submitted_by = serializers.CharField(source="submitted_by.username", default=None, allow_null=True)
    approval_request = serializers.IntegerField(source="approval_request_id", allow_null=True)
    approval_status = serializers.CharField(source="approval_request.status", default=None, allow_null=True)

    class Meta:
        model = CycleCount
        fields = ["id", "number", "warehouse", "status", "origin", "planned_for", "recount_of", "recounts",
                  "line_count", "counted_count", "created_by", "submitted_by", "submitted_at", "closed_at",
                  "approval_request", "approval_status", "created_at"]


class CycleCountDetailOutput(CycleCountOutput):
    """A count with its lines, in walking order."""

    lines = serializers.SerializerMethodField()

    class Meta(CycleCountOutput.Meta):
        fields = [*CycleCountOutput.Meta.fields, "lines"]

    @extend_schema_field(CycleCountLineOutput(many=True))
    def get_lines(self, count: CycleCount) -> list[dict[str, Any]]:
        lines = selectors.cycle_count_lines(count)
        return CycleCountLineOutput(  # type: ignore[return-value]  # many=True: a ListSerializer, whose data is a list
            lines, many=True, context={"blind": selectors.count_is_blind(count)}).data


class AccuracyOutput(serializers.Serializer[Any]):
    """Counted location-item pairs within tolerance over pairs counted, by first counts in the period."""

    warehouse = serializers.CharField()
    pairs_counted = serializers.IntegerField()
    pairs_within_tolerance = serializers.IntegerField()
    accuracy_percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True,
                                                help_text="Null when nothing was counted in the period.")
    since = serializers.DateField()
    until = serializers.DateField()


# --- the view -------------------------------------------------------------------------------------------


class CycleCountFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    status = django_filters.ChoiceFilter(choices=CycleCountStatus.choices)
    origin = django_filters.ChoiceFilter(choices=CycleCountOrigin.choices)

    class Meta:
        model = CycleCount
        fields = ["warehouse", "status", "origin"]




class CycleCountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Cycle counts of the caller's warehouses, newest first. Lines show the expected quantity and the
    variance only once the count is submitted (blind counting)."""

    # POST actions whose bodies go through ``idempotent`` too (the schema documents their Idempotency-Key).
    idempotent_actions = frozenset({"count", "submit", "recount", "cancel"})

    serializer_class = CycleCountOutput
    filterset_class = CycleCountFilter
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action_permission(self) -> str | None:
        # A recount is the approver's call, whatever their role: the engine decides who may (403 otherwise).
        return "inventory.view_cyclecount" if self.action == "recount" else None

    def get_queryset(self) -> QuerySet[CycleCount]:
        # The selector scopes to the caller's warehouses itself.
        recounts = CycleCount.objects.only("id", "number", "recount_of_id").order_by("id")
        return (selectors.cycle_counts(self.request.user)
                .prefetch_related(Prefetch("recounts", queryset=recounts)).order_by("-id"))

    def get_serializer_class(self) -> Any:
        return {
            "retrieve": CycleCountDetailOutput,
            "create": CycleCountCreateInput,
            "count": CycleCountEntriesInput,
            "submit": CycleCountSubmitInput,
            "recount": CycleCountRecountInput,
            "cancel": CycleCountCancelInput,
            "accuracy": AccuracyOutput,
        }.get(self.action, CycleCountOutput)

    def _detail(self, count_id: int, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=count_id)
        return Response(CycleCountDetailOutput(fresh).data, status=code)

    def _input(self, serializer_class: Any, count: CycleCount | None = None) -> dict[str, Any]:
        context = {**self.get_serializer_context(), "warehouse": count.warehouse if count is not None else None}
        data = serializer_class(data=self.request.data if self.request.data else {}, context=context)
        data.is_valid(raise_exception=True)
        validated: dict[str, Any] = data.validated_data
        return validated

    @extend_schema(responses=CycleCountDetailOutput)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(CycleCountDetailOutput(self.get_object()).data)

    @extend_schema(request=CycleCountCreateInput, responses={201: CycleCountDetailOutput})
    def create(self, request: Request) -> Response:
        """Open a count by hand (a spot check, a location audit) of the listed locations and items."""

        def produce() -> Response:
            fields = self._input(CycleCountCreateInput)
            count = services.cycle_count_create(warehouse=fields["warehouse"], pairs=fields["pairs"],
                                                actor=request.user)
            return self._detail(count.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=CycleCountEntriesInput, responses=CycleCountDetailOutput)
    @action(detail=True, methods=["post"])
    def count(self, request: Request, pk: str | None = None) -> Response:
        """Record counted quantities on an open count; the answer stays blind."""
        count = self.get_object()

        def produce() -> Response:
            fields = self._input(CycleCountEntriesInput, count)
            services.cycle_count_record(count=count, entries=fields["entries"], actor=request.user)
            return self._detail(count.pk)

        return idempotent(request, produce)

    @extend_schema(request=CycleCountSubmitInput, responses=CycleCountDetailOutput)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Submit an open count whose every line is counted (409 ``count_incomplete`` otherwise). Variances
        within the warehouse's tolerance post at once (``posted``); with any beyond it the count waits for its
        approval request (``pending_approval``)."""
        count = self.get_object()

        def produce() -> Response:
            fields = self._input(CycleCountSubmitInput, count)
            services.cycle_count_submit(count=count, entries=fields.get("entries"), actor=request.user)
            return self._detail(count.pk)

        return idempotent(request, produce)

    @extend_schema(request=CycleCountRecountInput, responses={201: CycleCountDetailOutput})
    @action(detail=True, methods=["post"])
    def recount(self, request: Request, pk: str | None = None) -> Response:
        """Instead of approving, send the variances beyond tolerance back to be counted again, as an approver
        of the count (403 ``not_an_approver`` otherwise). The answer is the new, blind count."""
        count = self.get_object()

        def produce() -> Response:
            fields = self._input(CycleCountRecountInput)
            recount = services.cycle_count_recount(count=count, actor=request.user, comment=fields["comment"])
            return self._detail(recount.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=CycleCountCancelInput, responses=CycleCountDetailOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel an open count: nothing was posted, nothing will be."""
        count = self.get_object()

        def produce() -> Response:
            self._input(CycleCountCancelInput)
            services.cycle_count_cancel(count=count, actor=request.user)
            return self._detail(count.pk)

        return idempotent(request, produce)

    @extend_schema(parameters=[AccuracyQuery], responses=AccuracyOutput(many=True))
    @action(detail=False, methods=["get"], filter_backends=[])
    def accuracy(self, request: Request) -> Response:
        """Inventory accuracy per warehouse in scope over ``since`` to ``until`` (at most 366 days; by default
        the 90 days ending today): counted location-item pairs within tolerance over pairs counted."""
        query = AccuracyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data
        rows = selectors.inventory_accuracy(user=request.user, since=period["since"], until=period["until"],
                                            warehouse=period.get("warehouse"))
        page = self.paginate_queryset(rows)  # type: ignore[arg-type]  # DRF pages any sequence; the stubs name QuerySet only
        data = [{"warehouse": row.warehouse, "pairs_counted": row.pairs_counted,
                 "pairs_within_tolerance": row.pairs_within_tolerance, "accuracy_percent": row.accuracy_percent,
                 "since": period["since"], "until": period["until"]} for row in page or []]
        return self.get_paginated_response(AccuracyOutput(data, many=True).data)


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the inventory router."""
    router.register("cycle-counts", CycleCountViewSet, basename="cycle-count")
