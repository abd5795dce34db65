"""Orders API: sales orders (``sales-orders/``), taken as drafts, confirmed and cancelled.

POST ``sales-orders/`` takes an order as a draft; ``confirm/`` promises and allocates it by policy (status
``allocated``, ``partially_allocated`` or ``backordered``; what cannot be had raises a ``shortage``
exception); ``cancel/`` releases every allocation. Every POST accepts an ``Idempotency-Key``.

Orders belong to the customer's region and are seen by whoever's scope covers it: an order outside the
caller's scope answers 404, and a customer outside it is refused (400) exactly like one that does not
exist, so nothing is written. Taking an order needs ``orders.add_salesorder``; confirming and cancelling
``orders.change_salesorder``.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Model, OuterRef, Prefetch, QuerySet, Subquery
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp import prepared
from erp.api.fields import ScopedSlugRelatedField
from erp.api.idempotency import idempotent
from erp.api.serializers import BuiltOnceModelSerializer, StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.scoping import scope_queryset
from inventory.models import Item, Lot
from orders.exceptions import ShipToNotOfCustomer
from orders.models import QUANTITY, Allocation, Customer, OrderStatus, SalesOrder, SalesOrderLine, ShipTo
from orders.services import sales as services
from warehouses.models import Region, Warehouse

# --- input ----------------------------------------------------------------------------------------------


class SalesOrderLineInput(StrictInputSerializer):
    """One line as ordered: ``quantity`` of ``sku`` in ``uom`` (any of the item's units; its base unit when left
    out)."""

    sku = serializers.CharField(max_length=40)
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in ``uom``.")
    uom = serializers.CharField(max_length=16, required=False,
                                help_text="One of the item's units; its base unit when left out.")
    requested_date = serializers.DateField(required=False, allow_null=True,
                                           help_text="When this line is wanted, if not the order's date.")

    def validate_quantity(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError("Must be more than 0.")
        return value


class SalesOrderCreateInput(StrictInputSerializer):
    """A new order (a draft) for a customer in the caller's scope, shipped to one of its addresses (its default
    address when ``ship_to`` is left out)."""

    customer = ScopedSlugRelatedField(slug_field="code", queryset=Customer.objects.all(),
                                      help_text="A customer code in your scope.")
    ship_to = serializers.CharField(max_length=32, required=False,
                                    help_text="The code of one of the customer's ship-to addresses; the customer's "
                                              "default address when left out.")
    requested_date = serializers.DateField(required=False, allow_null=True,
                                           help_text="When the customer wants the goods; a promise is never earlier.")
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                         help_text="Your reference (a PO number); unique per customer when given.")
    # ``many_init`` is what ``many=True`` calls: called directly, the list serializer's ``max_length`` type-checks.
    lines = SalesOrderLineInput.many_init(allow_empty=False, max_length=services.MAX_LINES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Resolve the ship-to within the customer and every SKU in the caller's scope (one query each). A
        ship-to left out stays None: the service takes the customer's default address, as on every path."""
        customer = attrs["customer"]
        ship_to = None
        if "ship_to" in attrs:
            ship_to = ShipTo.objects.filter(customer=customer, code=attrs["ship_to"]).first()
            if ship_to is None:
                raise ShipToNotOfCustomer(
                    detail={"ship_to": [f"{customer.code} has no ship-to address {attrs['ship_to']}."]})
        skus = {row["sku"] for row in attrs["lines"]}
        items = {found.sku: found for found in scope_queryset(Item.objects.select_related("base_uom"),
                                                              self.context.get("user")).filter(sku__in=skus)}
        errors = [{"sku": [f"No item {row['sku']}."]} if row["sku"] not in items else {} for row in attrs["lines"]]
        if any(errors):
            raise serializers.ValidationError({"lines": errors})
        attrs["ship_to"] = ship_to
        attrs["lines"] = [services.OrderLineSpec(item=items[row["sku"]], quantity=row["quantity"],
                                                 uom=row.get("uom") or items[row["sku"]].base_uom.code,
                                                 requested_date=row.get("requested_date"))
                          for row in attrs["lines"]]
        return attrs


class SalesOrderConfirmInput(StrictInputSerializer):
    pass


class SalesOrderCancelInput(StrictInputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                   help_text="Why the order is cancelled.")


# --- output ---------------------------------------------------------------------------------------------


class AllocationOutput(BuiltOnceModelSerializer):
    """Stock of one warehouse (and lot, for a lot-tracked item) held for the line, in the item's base unit."""

    warehouse = serializers.CharField(source="warehouse.code")
    lot = serializers.CharField(source="lot.lot_number", default=None, allow_null=True)

    class Meta:
        model = Allocation
        fields = ["warehouse", "lot", "quantity", "status", "ship_date", "promised_date"]


class SalesOrderLineOutput(BuiltOnceModelSerializer):
    """A line: ``quantity`` (and the allocated, backordered and shipped quantities) in the item's base unit
    ``base_uom``; ``uom_quantity`` and ``uom`` as ordered. ``warehouse``, ``ship_date`` and
    ``promised_date`` are set when the order is confirmed."""

    sku = serializers.CharField(source="item.sku")
    base_uom = serializers.CharField(source="item.base_uom.code")
    uom = serializers.CharField(source="uom_code")
    warehouse = serializers.CharField(source="warehouse.code", default=None, allow_null=True,
                                      help_text="Where the line is allocated (first), or the home warehouse when "
                                                "it waits for stock.")

    class Meta:
        model = SalesOrderLine
        fields = ["line_no", "sku", "quantity", "base_uom", "uom_quantity", "uom", "requested_date", "status",
                  "warehouse", "allocated_quantity", "backordered_quantity", "shipped_quantity", "ship_date",
                  "promised_date"]


class SalesOrderLineDetailOutput(SalesOrderLineOutput):
    """A line with the stock held for it, warehouse by warehouse and lot by lot."""

    allocations = AllocationOutput(many=True)

    class Meta(SalesOrderLineOutput.Meta):
        fields = [*SalesOrderLineOutput.Meta.fields, "allocations"]


class SalesOrderOutput(BuiltOnceModelSerializer):
    """An order: its customer, ship-to address, status and lines."""

    customer = serializers.CharField(source="customer.code")
    ship_to = serializers.CharField(source="ship_to.code")
    region = serializers.CharField(source="region.code", help_text="The customer's region when it was taken.")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    lines = SalesOrderLineOutput(many=True)

    class Meta:
        model = SalesOrder
        fields = ["id", "number", "status", "customer", "ship_to", "region", "external_ref", "requested_date",
                  "created_by", "created_at", "confirmed_at", "cancelled_at", "cancel_reason", "lines"]


class SalesOrderDetailOutput(SalesOrderOutput):
    """An order with its lines and what is allocated to each."""

    lines = SalesOrderLineDetailOutput(many=True)

    class Meta(SalesOrderOutput.Meta):
        pass


def sales_orders(*, allocations: bool) -> QuerySet[SalesOrder]:
    """Orders with everything their output shows, in a constant number of queries (not yet scoped)."""
    lines = SalesOrderLine.objects.select_related("item__base_uom", "warehouse").order_by("line_no")
    if allocations:
        lines = lines.prefetch_related(Prefetch(
            "allocations", queryset=Allocation.objects.select_related("warehouse", "lot").order_by("id")))
    return (SalesOrder.objects.select_related("customer", "ship_to", "region", "created_by")
            .prefetch_related(Prefetch("lines", queryset=lines)))


# What ``SalesOrderDetailOutput`` shows of an order, one row per allocation (or per line without any), in the
# order of these columns. The codes are scalar subqueries rather than joins: planning eleven joins took
# PostgreSQL longer than running them (2.4 ms a read against 0.7).
def _code_of(model: type[Model], key: str, field: str = "code") -> Subquery:
    return Subquery(model._default_manager.filter(pk=OuterRef(key)).order_by().values(field))


_DETAIL_COLUMNS = (
    "id", "number", "status", "customer_code", "ship_to_code", "region_code", "external_ref", "requested_date",
    "created_by_username", "created_at", "confirmed_at", "cancelled_at", "cancel_reason",
    "lines__id", "lines__line_no", "line_sku", "lines__quantity", "line_base_uom", "lines__uom_quantity",
    "lines__uom_code", "lines__requested_date", "lines__status", "line_warehouse", "lines__allocated_quantity",
    "lines__backordered_quantity", "lines__shipped_quantity", "lines__ship_date", "lines__promised_date",
    "lines__allocations__id", "allocation_warehouse", "allocation_lot", "lines__allocations__quantity",
    "lines__allocations__status", "lines__allocations__ship_date", "lines__allocations__promised_date",
)


@functools.cache
def _detail_rows_sql() -> str:
    """The read as SQL with one parameter, the order's id. Built by the ORM from the models, so no inventory
    table is named here (inventory owns them), and compiled once per process: composing it takes longer
    (0.9 ms) than PostgreSQL takes to run it; run as a prepared statement, planned once per connection."""
    query = (SalesOrder.objects.filter(pk=0)
             .annotate(customer_code=_code_of(Customer, "customer_id"), ship_to_code=_code_of(ShipTo, "ship_to_id"),
                       region_code=_code_of(Region, "region_id"),
                       created_by_username=_code_of(get_user_model(), "created_by_id", "username"),
                       line_sku=_code_of(Item, "lines__item_id", "sku"),
                       line_base_uom=_code_of(Item, "lines__item_id", "base_uom__code"),
                       line_warehouse=_code_of(Warehouse, "lines__warehouse_id"),
                       allocation_warehouse=_code_of(Warehouse, "lines__allocations__warehouse_id"),
                       allocation_lot=_code_of(Lot, "lines__allocations__lot_id", "lot_number"))
             .order_by("lines__line_no", "lines__allocations__id")
             .values_list(*_DETAIL_COLUMNS))
    sql, params = query.query.sql_with_params()
    if tuple(params) != (0,):  # the order's id must be the only parameter, or the SQL below reads another row
        raise ImproperlyConfigured(f"the sales order read takes {params!r}, not the order's id alone")
    return sql


def _code(value: str | None, name: str = "code") -> dict[str, str] | None:
    return None if value is None else {name: value}


def sales_order_answer(order_id: int) -> dict[str, Any]:
    """The order ``order_id``, read afresh in one query, in the shape ``SalesOrderDetailOutput`` reads: nested
    dicts with the model's attribute names, so the output serializer stays the one definition of the answer.
    For the answers of the POSTs: ``sales_orders`` costs three queries and, on this path, more time composing
    them in the ORM than PostgreSQL takes to run them. Not scoped: the caller has resolved the order in scope."""
    with connection.cursor() as cursor:
        prepared.execute(cursor, _detail_rows_sql(), [order_id])
        rows = cursor.fetchall()
    if not rows:
        raise SalesOrder.DoesNotExist(f"no sales order {order_id}")
    (pk, number, order_status, customer, ship_to, region, external_ref, requested_date, created_by, created_at,
     confirmed_at, cancelled_at, cancel_reason) = rows[0][:13]
    lines: dict[int, dict[str, Any]] = {}
    for row in rows:
        (line_id, line_no, sku, quantity, base_uom, uom_quantity, uom_code, line_requested, line_status, warehouse,
         allocated, backordered, shipped, ship_date, promised_date) = row[13:28]
        if line_id is None:
            continue
        line = lines.get(line_id)
        if line is None:
            line = lines[line_id] = {
                "line_no": line_no, "item": {"sku": sku, "base_uom": _code(base_uom)}, "quantity": quantity,
                "uom_quantity": uom_quantity, "uom_code": uom_code, "requested_date": line_requested,
                "status": line_status, "warehouse": _code(warehouse), "allocated_quantity": allocated,
                "backordered_quantity": backordered, "shipped_quantity": shipped, "ship_date": ship_date,
                "promised_date": promised_date, "allocations": []}
        allocation_id, held_at, lot, held, held_status, held_ship_date, held_promised_date = row[28:]
        if allocation_id is not None:
            line["allocations"].append({
                "warehouse": _code(held_at), "lot": _code(lot, "lot_number"), "quantity": held,
                "status": held_status, "ship_date": held_ship_date, "promised_date": held_promised_date})
    return {"id": pk, "number": number, "status": order_status, "customer": _code(customer),
            "ship_to": _code(ship_to), "region": _code(region), "external_ref": external_ref,
            "requested_date": requested_date, "created_by": _code(created_by, "username"),
            "created_at": created_at, "confirmed_at": confirmed_at, "cancelled_at": cancelled_at,
            "cancel_reason": cancel_reason, "lines": list(lines.values())}


# --- the view -------------------------------------------------------------------------------------------


class SalesOrderFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    customer = django_filters.CharFilter(field_name="customer__code")
    warehouse = django_filters.CharFilter(method="filter_warehouse",
                                          help_text="Orders with a line allocated at (or waiting for) this warehouse.")
    created_from = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte",
                                             help_text="Taken on or after this date (UTC).")
    created_to = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte",
                                           help_text="Taken on or before this date (UTC).")

    class Meta:
        model = SalesOrder
        fields = ["status", "customer", "warehouse", "created_from", "created_to"]

    def filter_warehouse(self, queryset: QuerySet[SalesOrder], name: str, value: str) -> QuerySet[SalesOrder]:
        return queryset.filter(pk__in=SalesOrderLine.objects.filter(warehouse__code=value).values("order_id"))




class SalesOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Sales orders of the caller's regions, newest first, with their lines."""

    # POST actions whose bodies go through ``idempotent`` too (the schema documents their Idempotency-Key).
    idempotent_actions = frozenset({"confirm", "cancel"})

    serializer_class = SalesOrderOutput
    filterset_class = SalesOrderFilter
    http_method_names = ["get", "post", "head", "options"]

    @property
    def required_action_permission(self) -> str | None:
        return "orders.change_salesorder" if self.action in ("confirm", "cancel") else None

    def base_queryset(self) -> QuerySet[SalesOrder]:
        if self.action in ("confirm", "cancel"):
            return SalesOrder.objects.all()  # the service reads what it needs; the answer is read afresh
        return sales_orders(allocations=self.action != "list").order_by("-id")

    def get_serializer_class(self) -> Any:
        return {
            "retrieve": SalesOrderDetailOutput,
            "create": SalesOrderCreateInput,
            "confirm": SalesOrderConfirmInput,
            "cancel": SalesOrderCancelInput,
        }.get(self.action, SalesOrderOutput)

    def _input(self, serializer_class: type[StrictInputSerializer]) -> dict[str, Any]:
        body = self.request.data
        data = serializer_class(data={} if body is None else body, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = data.validated_data  # the stubs type it Any; a Serializer's is a dict
        return fields

    def _detail(self, order_id: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(SalesOrderDetailOutput(sales_order_answer(order_id)).data, status=code)

    @extend_schema(responses=SalesOrderDetailOutput)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(SalesOrderDetailOutput(self.get_object()).data)

    @extend_schema(request=SalesOrderCreateInput, responses={201: SalesOrderDetailOutput})
    def create(self, request: Request) -> Response:
        """Take an order as a draft. Quantities are converted to each item's base unit exactly; a line without
        ``uom`` is in the item's base unit, an order without ``ship_to`` goes to the customer's default address
        (400 ``validation_error`` on ``ship_to`` when it has none); an ``external_ref`` the customer already
        used is 409 ``duplicate_external_ref``."""

        def produce() -> Response:
            fields = self._input(SalesOrderCreateInput)
            order = services.sales_order_create(
                customer=fields["customer"], ship_to=fields.get("ship_to"), lines=fields["lines"],
                external_ref=fields["external_ref"], requested_date=fields.get("requested_date"), actor=request.user,
            )
            return self._detail(order.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=SalesOrderConfirmInput, responses=SalesOrderDetailOutput)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        """Confirm a draft: promise and allocate every line by policy (home warehouse first, then its region,
        other regions only where allowed). The order becomes ``allocated``, ``partially_allocated`` or
        ``backordered``; what cannot be allocated raises a ``shortage`` exception. Confirming anything but a
        draft is 409 ``invalid_transition``."""
        order = self.get_object()

        def produce() -> Response:
            self._input(SalesOrderConfirmInput)
            services.sales_order_confirm(order=order, actor=request.user)
            return self._detail(order.pk)

        return idempotent(request, produce)

    @extend_schema(request=SalesOrderCancelInput, responses=SalesOrderDetailOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel an order that has not shipped: every allocation is released and every line cancelled. A
        cancelled, packed or shipped order is 409 ``invalid_transition``."""
        order = self.get_object()

        def produce() -> Response:
            fields = self._input(SalesOrderCancelInput)
            services.sales_order_cancel(order=order, actor=request.user, reason=fields["reason"])
            return self._detail(order.pk)

        return idempotent(request, produce)


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the orders router."""
    router.register("sales-orders", SalesOrderViewSet, basename="sales-order")
