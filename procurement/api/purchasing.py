"""Procure-to-pay documents API: ``purchase-requisitions/``, ``purchase-orders/`` and ``receipts/`` (issue 14).

Every document is seen by whoever's scope covers its (receiving) warehouse: one outside the scope is 404, as one
that does not exist. Raising one for a warehouse outside the caller's scope is 404 too (``warehouse``), an unknown
code 400. Who may write is the role's (``erp.roles``): buyers raise, change, submit, revise, send, cancel and close
purchase orders and order approved requisitions (``procurement.add_purchaseorder`` /
``procurement.change_purchaseorder``); planners and buyers raise requisitions
(``procurement.add_purchaserequisition``); operators, supervisors and the integrator receive
(``procurement.add_receipt``). Every POST accepts an ``Idempotency-Key``. The services decide everything else:
``procurement.purchasing`` and ``procurement.receiving``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from erp.api.idempotency import idempotent
from erp.api.serializers import StrictInputSerializer
from erp.api.views import ScopedViewSet
from erp.exceptions import NotFound
from erp.scoping import scope_of, scope_queryset
from erp.search import SearchFilterSet
from inventory.models import Item
from orders.services.repromise import repromised_detail
from procurement import landed, purchasing, receiving, rules, schedule
from procurement.models import (
    AMOUNT,
    PRICE,
    QUANTITY,
    LandedCost,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    PurchaseRequisition,
    PurchaseRequisitionLine,
    Receipt,
    ReceiptLine,
    RequisitionSource,
    RequisitionStatus,
    Supplier,
)
from warehouses.models import Warehouse

MAX_ID = 2_147_483_647

# --- resolving codes ------------------------------------------------------------------------------------------


def _warehouse_in_scope(code: str, user: Any) -> Warehouse:
    """The warehouse of ``code``: unknown is 400, outside the caller's scope 404 (as for a document there)."""
    warehouse = Warehouse.objects.select_related("region", "legal_entity").filter(code=code).first()
    if warehouse is None:
        raise serializers.ValidationError({"warehouse": [f"No warehouse {code}."]})
    if not scope_of(user).covers_warehouse(warehouse.pk):
        raise NotFound(detail={"warehouse": [f"Warehouse {code} is not in your scope."]})
    return warehouse


def _items(rows: list[dict[str, Any]], user: Any) -> dict[str, Item]:
    """Every line's SKU (one query); any unknown one is 400 on its line."""
    skus = {row["sku"] for row in rows}
    items = {item.sku: item for item in scope_queryset(Item.objects.select_related("base_uom"), user)
             .filter(sku__in=skus)}
    errors = [{"sku": [f"No item {row['sku']}."]} if row["sku"] not in items else {} for row in rows]
    if any(errors):
        raise serializers.ValidationError({"lines": errors})
    return items


# --- input: purchase orders -----------------------------------------------------------------------------------


class PurchaseOrderLineInput(StrictInputSerializer):
    """One line as ordered: ``quantity`` of ``sku`` in ``uom`` (the unit the supplier sells it in when left out)
    at ``unit_price`` per that unit (the supplier's when left out), expected on ``expected_date`` (the order date
    plus the supplier's lead time when left out)."""

    sku = serializers.CharField(max_length=40)
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in ``uom``; at least the supplier's "
                                                              "minimum and whole packs.")
    uom = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    unit_price = serializers.DecimalField(**PRICE, required=False, allow_null=True, default=None,
                                          help_text="More than 0, in the order's currency per ``uom``.")
    expected_date = serializers.DateField(required=False, allow_null=True, default=None)


def _order_lines(rows: list[dict[str, Any]], user: Any) -> list[purchasing.OrderLineSpec]:
    items = _items(rows, user)
    return [purchasing.OrderLineSpec(item=items[row["sku"]], quantity=row["quantity"], uom=row.get("uom") or "",
                                     unit_price=row.get("unit_price"), expected_date=row.get("expected_date"))
            for row in rows]


class PurchaseOrderCreateInput(StrictInputSerializer):
    """A new purchase order (a draft) to one supplier for one receiving warehouse in the caller's scope."""

    supplier = serializers.CharField(max_length=32, help_text="The supplier's code.")
    warehouse = serializers.CharField(max_length=32, help_text="The receiving warehouse's code.")
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="",
                                     help_text="The supplier's currency (the only one accepted); left out: it.")
    order_date = serializers.DateField(required=False, allow_null=True, default=None,
                                       help_text="Today at the warehouse when left out; never before it.")
    supplier_reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=purchasing.MAX_NOTE, required=False, allow_blank=True, default="")
    lines = PurchaseOrderLineInput.many_init(allow_empty=False, max_length=purchasing.MAX_LINES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Resolve the supplier (unknown: 400), the warehouse (unknown 400, outside the scope 404) and the SKUs."""
        user = self.context.get("user")
        supplier = Supplier.objects.filter(code=attrs["supplier"]).first()
        if supplier is None:
            raise serializers.ValidationError({"supplier": [f"No supplier {attrs['supplier']}."]})
        warehouse = _warehouse_in_scope(attrs["warehouse"], user)
        return {**attrs, "supplier": supplier, "warehouse": warehouse, "currency": attrs.get("currency") or None,
                "lines": _order_lines(attrs["lines"], user)}


class PurchaseOrderUpdateInput(StrictInputSerializer):
    """Changes to a draft: ``lines`` (replacing them all), ``note``, ``supplier_reference``."""

    supplier_reference = serializers.CharField(max_length=64, required=False, allow_blank=True)
    note = serializers.CharField(max_length=purchasing.MAX_NOTE, required=False, allow_blank=True)
    lines = PurchaseOrderLineInput.many_init(required=False, allow_empty=False, max_length=purchasing.MAX_LINES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "lines" in attrs:
            attrs["lines"] = _order_lines(attrs["lines"], self.context.get("user"))
        return attrs


class ProcurementActionInput(StrictInputSerializer):
    pass


class ProcurementReasonInput(StrictInputSerializer):
    reason = serializers.CharField(max_length=purchasing.MAX_NOTE, required=False, allow_blank=True, default="",
                                   help_text="Why.")


class RescheduleLineInput(StrictInputSerializer):
    line_no = serializers.IntegerField(min_value=1)
    expected_date = serializers.DateField(help_text="The supplier's new date for the line.")


class RescheduleInput(StrictInputSerializer):
    """A supplier's new dates: ``lines`` [{"line_no", "expected_date"}], and why."""

    lines = RescheduleLineInput.many_init(allow_empty=False, max_length=purchasing.MAX_LINES)
    reason = serializers.CharField(max_length=purchasing.MAX_NOTE, required=False, allow_blank=True, default="",
                                   help_text="Why (the supplier's word).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {"reason": attrs["reason"], "lines": [schedule.RescheduleSpec(line["line_no"], line["expected_date"])
                                                     for line in attrs["lines"]]}


class RescheduleOutput(serializers.Serializer[Any]):
    lines = serializers.ListField(child=serializers.DictField(), help_text="Lines whose date moved: line_no, old, new.")
    repromised = serializers.ListField(child=serializers.DictField(),
                                       help_text="Customer lines promised again: order, line_no, sku, old, new date.")


# --- input: requisitions --------------------------------------------------------------------------------------


class RequisitionLineInput(StrictInputSerializer):
    """``quantity`` of ``sku`` in ``uom`` (its base unit when left out) needed by ``needed_by``, from ``supplier``
    (the SKU's preferred supplier when left out)."""

    sku = serializers.CharField(max_length=40)
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in ``uom``.")
    uom = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    needed_by = serializers.DateField(help_text="From today at the warehouse.")
    supplier = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True, default=None,
                                     help_text="A supplier's code; it must sell the SKU.")


class RequisitionCreateInput(StrictInputSerializer):
    """A new requisition (a draft) for one warehouse in the caller's scope."""

    warehouse = serializers.CharField(max_length=32, help_text="The warehouse's code.")
    source = serializers.ChoiceField(  # type: ignore[assignment]  # the contract's name shadows Field.source in the stubs; on a Serializer it is a declared field
        choices=RequisitionSource.choices, required=False, default=RequisitionSource.MANUAL)
    note = serializers.CharField(max_length=purchasing.MAX_NOTE, required=False, allow_blank=True, default="")
    lines = RequisitionLineInput.many_init(allow_empty=False, max_length=purchasing.MAX_LINES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = self.context.get("user")
        warehouse = _warehouse_in_scope(attrs["warehouse"], user)
        rows = attrs["lines"]
        items = _items(rows, user)
        codes = {row["supplier"] for row in rows if row.get("supplier")}
        suppliers = {s.code: s for s in Supplier.objects.filter(code__in=codes)}
        errors = [{"supplier": [f"No supplier {row['supplier']}."]}
                  if row.get("supplier") and row["supplier"] not in suppliers else {} for row in rows]
        if any(errors):
            raise serializers.ValidationError({"lines": errors})
        attrs["warehouse"] = warehouse
        attrs["lines"] = [purchasing.RequisitionLineSpec(
            item=items[row["sku"]], quantity=row["quantity"], needed_by=row["needed_by"], uom=row.get("uom") or "",
            supplier=suppliers[row["supplier"]] if row.get("supplier") else None) for row in rows]
        return attrs


# --- input: receipts ------------------------------------------------------------------------------------------


class PurchaseReceiptLineInput(StrictInputSerializer):
    """What arrived of one order line (a line may come more than once: two lots, two locations, two statuses)."""

    line_no = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The order line's number.")
    quantity = serializers.DecimalField(**QUANTITY, help_text="More than 0, in ``uom``.")
    uom = serializers.CharField(max_length=16, required=False, allow_blank=True, default="",
                                help_text="One of the item's units; the order line's unit when left out.")
    lot = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True, default=None,
                                help_text="Required for a lot-tracked item, refused for any other.")
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None,
                                        help_text="The lot's expiry; never before today at the warehouse.")
    status = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                   help_text="available or quality_hold; left out: available, or quality_hold where "
                                             "procurement.inspection_required holds.")
    location = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True, default=None,
                                     help_text="The location scanned; where the put-away rules say when left out.")


class ReceiptFreightInput(StrictInputSerializer):
    amount = serializers.DecimalField(**AMOUNT, help_text="0 or more, to the cent.")
    currency = serializers.CharField(max_length=3, help_text="An ISO code, such as EUR.")
    method = serializers.CharField(max_length=10, help_text="quantity, value or weight: how it is spread.")


class PurchaseReceiptCreateInput(StrictInputSerializer):
    """Goods received against a purchase order of a warehouse in the caller's scope.

    ``purchase_order`` names the order by its number (``PO-000123``) or its id: the number is what is printed
    on the paperwork and scanned at the dock, the id what the API answers; both are accepted and mean the same
    order. An unknown order is 400; one outside the caller's scope 404. ``warehouse``, when given, must be the
    order's receiving warehouse (400 otherwise).
    """

    purchase_order = serializers.CharField(max_length=20, help_text="The order's number (PO-...) or id.")
    warehouse = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                      help_text="The receiving warehouse's code: the order's.")
    supplier_reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                               help_text="The ASN or delivery note scanned.")
    allow_over = serializers.BooleanField(required=False, default=False,
                                          help_text="Receive beyond procurement.over_receipt_tolerance (a "
                                                    "supervisor or approver of the warehouse only).")
    freight = ReceiptFreightInput(required=False, allow_null=True, default=None)
    lines = PurchaseReceiptLineInput.many_init(allow_empty=False, max_length=receiving.MAX_LINES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = self.context.get("user")
        key = attrs["purchase_order"].strip()
        lookup = {"pk": int(key)} if key.isdigit() and int(key) <= MAX_ID else {"number": key}
        order = PurchaseOrder.objects.select_related("warehouse").filter(**lookup).first()
        if order is None:
            raise serializers.ValidationError({"purchase_order": [f"No purchase order {key}."]})
        if not scope_of(user).covers_warehouse(order.warehouse_id):
            raise NotFound(detail={"purchase_order": [f"Purchase order {key} is not in your scope."]})
        if attrs.get("warehouse") and attrs["warehouse"] != order.warehouse.code:
            raise serializers.ValidationError({"warehouse": [
                f"{order.number} is received at {order.warehouse.code}, not {attrs['warehouse']}."]})
        freight = attrs.get("freight")
        return {
            "purchase_order": order, "supplier_reference": attrs["supplier_reference"],
            "allow_over": attrs["allow_over"],
            "freight": None if freight is None else receiving.Freight(
                amount=freight["amount"], currency=freight["currency"], method=freight["method"]),
            "lines": [receiving.ReceiptLineSpec(
                line_no=row["line_no"], quantity=row["quantity"], uom=row.get("uom") or "",
                lot_number=row.get("lot") or None, expiry_date=row.get("expiry_date"), status=row.get("status") or "",
                location=row.get("location") or None) for row in attrs["lines"]],
        }


# --- output ---------------------------------------------------------------------------------------------------


class PurchaseOrderLineOutput(serializers.ModelSerializer[PurchaseOrderLine]):
    """A line as ordered: ``quantity`` in ``uom`` at ``unit_price`` per ``uom``; ``base_quantity`` of it in the
    item's ``base_uom``, in which ``received_quantity`` and ``open_quantity`` are counted."""

    sku = serializers.CharField(source="item.sku")
    quantity = serializers.DecimalField(**QUANTITY, source="uom_quantity")
    uom = serializers.CharField(source="uom_code")
    base_quantity = serializers.DecimalField(**QUANTITY, source="quantity")
    base_uom = serializers.CharField(source="item.base_uom.code")
    open_quantity = serializers.DecimalField(**QUANTITY, read_only=True)

    class Meta:
        model = PurchaseOrderLine
        fields = ["line_no", "sku", "quantity", "uom", "unit_price", "line_total", "expected_date", "promised_date",
                  "base_quantity", "base_uom", "received_quantity", "open_quantity"]


class PurchaseOrderOutput(serializers.ModelSerializer[PurchaseOrder]):
    """An order in the supplier's ``currency``; from submission ``rate`` values it (``base_total``) in the buying
    entity's ``base_currency``. ``revision`` counts approved changes; ``copied_from`` is the order it duplicates."""

    supplier = serializers.CharField(source="supplier.code")
    warehouse = serializers.CharField(source="warehouse.code")
    approval_request = serializers.IntegerField(source="approval_request_id", allow_null=True)
    copied_from = serializers.IntegerField(source="copied_from_id", allow_null=True)
    requested_by = serializers.CharField(source="requested_by.username", default=None, allow_null=True)
    lines = PurchaseOrderLineOutput(many=True)

    class Meta:
        model = PurchaseOrder
        fields = ["id", "number", "status", "revision", "supplier", "warehouse", "currency", "total",
                  "base_currency", "rate", "base_total", "category", "order_date", "supplier_reference", "note",
                  "copied_from", "approval_request", "requested_by", "created_at", "submitted_at", "approved_at",
                  "sent_at", "received_at", "closed_at", "cancelled_at", "cancel_reason", "lines"]
        read_only_fields = fields


class RequisitionLineOutput(serializers.ModelSerializer[PurchaseRequisitionLine]):
    sku = serializers.CharField(source="item.sku")
    quantity = serializers.DecimalField(**QUANTITY, source="uom_quantity")
    uom = serializers.CharField(source="uom_code")
    base_quantity = serializers.DecimalField(**QUANTITY, source="quantity")
    supplier = serializers.CharField(source="supplier.code", default=None, allow_null=True)
    purchase_order = serializers.CharField(source="order_line.order.number", default=None, allow_null=True,
                                           help_text="The order the line went onto, once ordered.")

    class Meta:
        model = PurchaseRequisitionLine
        fields = ["line_no", "sku", "quantity", "uom", "base_quantity", "needed_by", "supplier", "purchase_order"]


class RequisitionOutput(serializers.ModelSerializer[PurchaseRequisition]):
    warehouse = serializers.CharField(source="warehouse.code")
    approval_request = serializers.IntegerField(source="approval_request_id", allow_null=True)
    requested_by = serializers.CharField(source="requested_by.username", default=None, allow_null=True)
    lines = RequisitionLineOutput(many=True)

    class Meta:
        model = PurchaseRequisition
        fields = ["id", "number", "status", "source", "warehouse", "note", "currency", "value", "approval_request",
                  "requested_by", "created_at", "submitted_at", "decided_at", "ordered_at", "cancelled_at", "lines"]


class PurchaseReceiptLineOutput(serializers.ModelSerializer[ReceiptLine]):
    """One received part: ``quantity`` (the item's base unit) at ``location`` in ``status``, at ``unit_cost`` in
    the receipt's currency (the order's price converted, ``price_cost``, plus its ``freight`` share per unit);
    ``over_quantity`` of it beyond what was ordered."""

    order_line_no = serializers.IntegerField(source="order_line.line_no")
    sku = serializers.CharField(source="item.sku")
    uom = serializers.CharField(source="item.base_uom.code")
    lot = serializers.CharField(source="lot.lot_number", default=None, allow_null=True)
    expiry_date = serializers.DateField(source="lot.expiry_date", default=None, allow_null=True)
    location = serializers.CharField(source="location.code")

    class Meta:
        model = ReceiptLine
        fields = ["line_no", "order_line_no", "sku", "quantity", "uom", "uom_quantity", "uom_code", "lot",
                  "expiry_date", "status", "location", "price_cost", "freight", "unit_cost", "over_quantity"]


class ReceiptFreightOutput(serializers.Serializer[Receipt]):
    amount = serializers.DecimalField(**AMOUNT, source="freight_amount")
    currency = serializers.CharField(source="freight_currency")
    method = serializers.CharField(source="freight_method")
    base_amount = serializers.DecimalField(**AMOUNT, source="freight_base",
                                           help_text="In the receipt's currency (the buying entity's).")


class PurchaseReceiptOutput(serializers.ModelSerializer[Receipt]):
    purchase_order = serializers.CharField(source="purchase_order.number")
    purchase_order_id = serializers.IntegerField()
    warehouse = serializers.CharField(source="warehouse.code")
    received_by = serializers.CharField(source="received_by.username", default=None, allow_null=True)
    freight = serializers.SerializerMethodField()
    lines = PurchaseReceiptLineOutput(many=True)

    class Meta:
        model = Receipt
        fields = ["id", "number", "purchase_order", "purchase_order_id", "warehouse", "supplier_reference",
                  "currency", "rate", "freight", "received_by", "posted_at", "lines"]

    @extend_schema(responses=ReceiptFreightOutput(allow_null=True))
    def get_freight(self, receipt: Receipt) -> dict[str, Any] | None:
        """The freight paid on the receipt, or null."""
        return None if receipt.freight_amount is None else dict(ReceiptFreightOutput(receipt).data)


# --- querysets and filters ------------------------------------------------------------------------------------


def purchase_order_detail_queryset() -> QuerySet[PurchaseOrder]:
    lines = PurchaseOrderLine.objects.select_related("item__base_uom").order_by("line_no")
    return purchasing.purchase_orders().prefetch_related(Prefetch("lines", queryset=lines))


def requisition_detail_queryset() -> QuerySet[PurchaseRequisition]:
    lines = (PurchaseRequisitionLine.objects.select_related("item", "supplier", "order_line__order")
             .order_by("line_no"))
    return (PurchaseRequisition.objects.select_related("warehouse", "requested_by").order_by("-id")
            .prefetch_related(Prefetch("lines", queryset=lines)))


def receipt_detail_queryset() -> QuerySet[Receipt]:
    lines = (ReceiptLine.objects.select_related("item__base_uom", "lot", "location", "order_line")
             .order_by("line_no"))
    return (Receipt.objects.select_related("purchase_order", "warehouse", "received_by").order_by("-id")
            .prefetch_related(Prefetch("lines", queryset=lines)))


class PurchaseOrderFilter(SearchFilterSet):
    search_fields = ("number", "supplier_reference")
    status = django_filters.ChoiceFilter(choices=PurchaseOrderStatus.choices)
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    supplier = django_filters.CharFilter(field_name="supplier__code")
    late = django_filters.BooleanFilter(method="filter_late",
                                        help_text="true: on order (approved, sent or partly received) with an open "
                                                  "line past its expected date; false: the others.")

    class Meta:
        model = PurchaseOrder
        fields = ["status", "warehouse", "supplier", "late"]

    def filter_late(self, queryset: QuerySet[PurchaseOrder], name: str, value: bool | None) -> QuerySet[PurchaseOrder]:
        if value is None:
            return queryset
        late_line = PurchaseOrderLine.objects.filter(order=OuterRef("pk"), expected_date__lt=timezone.localdate(),
                                                     received_quantity__lt=F("quantity"))
        late = Exists(late_line) & Q(status__in=rules.ON_ORDER_STATUSES)
        return queryset.filter(late) if value else queryset.exclude(late)


class RequisitionFilter(SearchFilterSet):
    search_fields = ("number",)
    status = django_filters.ChoiceFilter(choices=RequisitionStatus.choices)
    source = django_filters.ChoiceFilter(choices=RequisitionSource.choices)
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    supplier = django_filters.CharFilter(method="filter_supplier", help_text="Any line from this supplier.")

    class Meta:
        model = PurchaseRequisition
        fields = ["status", "source", "warehouse", "supplier"]

    def filter_supplier(self, queryset: QuerySet[PurchaseRequisition], name: str, value: str,
                        ) -> QuerySet[PurchaseRequisition]:
        return queryset.filter(Exists(PurchaseRequisitionLine.objects.filter(requisition=OuterRef("pk"),
                                                                             supplier__code=value)))


class ReceiptFilter(SearchFilterSet):
    search_fields = ("number", "supplier_reference", "purchase_order__number")
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    purchase_order = django_filters.CharFilter(field_name="purchase_order__number")
    supplier = django_filters.CharFilter(field_name="purchase_order__supplier__code")

    class Meta:
        model = Receipt
        fields = ["warehouse", "purchase_order", "supplier"]


# --- the views ------------------------------------------------------------------------------------------------


class _DocumentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    action_permissions: dict[str, str] = {}

    @property
    def required_action_permission(self) -> str | None:
        return self.action_permissions.get(self.action or "")

    def _input(self, serializer_class: type[StrictInputSerializer], partial: bool = False) -> dict[str, Any]:
        body = self.request.data
        data = serializer_class(data={} if body is None else body, context=self.get_serializer_context(),
                                partial=partial)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = data.validated_data  # the stubs type it Any; a Serializer's is a dict
        return fields


PURCHASE_ORDER_ACTIONS = {
    "submit": "procurement.add_purchaseorder",
    "duplicate": "procurement.add_purchaseorder",
    "revise": "procurement.change_purchaseorder",
    "send": "procurement.change_purchaseorder",
    "cancel": "procurement.change_purchaseorder",
    "close": "procurement.change_purchaseorder",
    "reschedule": "procurement.change_purchaseorder",
}


class PurchaseOrderViewSet(_DocumentViewSet):
    """Purchase orders received at the caller's warehouses, newest first, with their lines."""

    action_permissions = PURCHASE_ORDER_ACTIONS
    idempotent_actions = frozenset(PURCHASE_ORDER_ACTIONS)
    serializer_class = PurchaseOrderOutput
    filterset_class = PurchaseOrderFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[PurchaseOrder]:
        if self.action in PURCHASE_ORDER_ACTIONS or self.action == "partial_update":
            return PurchaseOrder.objects.all()  # the service reads what it needs; the answer is read afresh
        return purchase_order_detail_queryset()

    def get_serializer_class(self) -> Any:
        inputs: dict[str, Any] = {"create": PurchaseOrderCreateInput, "partial_update": PurchaseOrderUpdateInput,
                                  **dict.fromkeys(("submit", "send", "duplicate"), ProcurementActionInput),
                                  **dict.fromkeys(("revise", "cancel", "close"), ProcurementReasonInput),
                                  "reschedule": RescheduleInput}
        return inputs.get(self.action or "", PurchaseOrderOutput)

    def _detail(self, order_id: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(PurchaseOrderOutput(purchase_order_detail_queryset().get(pk=order_id)).data, status=code)

    @extend_schema(request=PurchaseOrderCreateInput, responses={201: PurchaseOrderOutput})
    def create(self, request: Request) -> Response:
        """Raise a purchase order (a draft), priced from the supplier's items. An unknown supplier, warehouse or
        SKU is 400; a SKU the supplier does not sell 400 ``not_sold_by_supplier``; an unknown unit 400
        ``unknown_uom``; a quantity or price not above 0 400 ``invalid_quantity`` / ``invalid_price``; below the
        supplier's minimum or not whole packs 400 ``below_minimum_order``."""

        def produce() -> Response:
            fields = self._input(PurchaseOrderCreateInput)
            order = purchasing.purchase_order_create(actor=request.user, **fields)
            return self._detail(order.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=PurchaseOrderUpdateInput, responses=PurchaseOrderOutput)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change a draft: its lines (all replaced), note or supplier reference. Any other status is 409
        ``purchase_order_frozen``: revise it first."""
        order = self.get_object()
        fields = self._input(PurchaseOrderUpdateInput, partial=True)
        purchasing.purchase_order_update(order=order, actor=request.user, **fields)
        return self._detail(order.pk)

    def _act(self, service: Any, serializer_class: type[StrictInputSerializer]) -> Response:
        order = self.get_object()

        def produce() -> Response:
            fields = self._input(serializer_class)
            service(order=order, actor=self.request.user, **fields)
            return self._detail(order.pk)

        return idempotent(self.request, produce)

    @extend_schema(request=ProcurementActionInput, responses=PurchaseOrderOutput)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Submit a draft for approval, routed by ``procurement.approval_matrix`` (its value in the buying entity's
        currency, its category, the warehouse's region). Anything but a draft is 409 ``invalid_transition``."""
        return self._act(purchasing.purchase_order_submit, ProcurementActionInput)

    @extend_schema(request=ProcurementReasonInput, responses=PurchaseOrderOutput)
    @action(detail=True, methods=["post"])
    def revise(self, request: Request, pk: str | None = None) -> Response:
        """Take an order in approval, approved or sent (nothing received) back to draft to change it: a new
        revision, approved again. Anything else is 409 ``invalid_transition``."""
        return self._act(purchasing.purchase_order_revise, ProcurementReasonInput)

    @extend_schema(request=ProcurementActionInput, responses=PurchaseOrderOutput)
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str | None = None) -> Response:
        """Mark an approved order as sent to the supplier; otherwise 409 ``invalid_transition``."""
        return self._act(purchasing.purchase_order_send, ProcurementActionInput)

    @extend_schema(request=ProcurementReasonInput, responses=PurchaseOrderOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel an order nothing was received on (a pending approval is withdrawn with it); with receipts 409
        ``invalid_transition``: close it instead."""
        return self._act(purchasing.purchase_order_cancel, ProcurementReasonInput)

    @extend_schema(request=ProcurementReasonInput, responses=PurchaseOrderOutput)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        """Close an approved order that will receive no more; a draft or one in approval is 409
        ``invalid_transition``."""
        return self._act(purchasing.purchase_order_close, ProcurementReasonInput)

    @extend_schema(request=RescheduleInput, responses=RescheduleOutput)
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str | None = None) -> Response:
        """The supplier's new dates for open lines: in the same transaction every customer line waiting on those
        SKUs at the warehouse is promised again (``promise_at_risk`` for each order promised later) and a later
        date raises ``late_receipt`` for the buyer. An order not approved, sent or partly received is 409
        ``not_receivable``, as is a line received in full; an unknown or repeated line or a date before today
        at the warehouse 400."""
        order = self.get_object()

        def produce() -> Response:
            fields = self._input(RescheduleInput)
            done = schedule.purchase_order_reschedule(order=order, actor=request.user, **fields)
            return Response({
                "lines": [{"line_no": line_no, "old_date": old.isoformat(), "new_date": new.isoformat()}
                          for line_no, old, new in done.lines],
                "repromised": repromised_detail(done.repromised),
            })

        return idempotent(request, produce)

    @extend_schema(request=ProcurementActionInput, responses={201: PurchaseOrderOutput})
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str | None = None) -> Response:
        """A new draft with the same supplier, warehouse and lines at the supplier's prices today (no approval,
        revision or receipt is copied); it answers the new order."""
        order = self.get_object()

        def produce() -> Response:
            self._input(ProcurementActionInput)
            copy = purchasing.purchase_order_duplicate(order=order, actor=request.user)
            return self._detail(copy.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)


REQUISITION_ACTIONS = {
    "submit": "procurement.add_purchaserequisition",
    "cancel": "procurement.add_purchaserequisition",
    "order": "procurement.add_purchaseorder",
}


class RequisitionViewSet(_DocumentViewSet):
    """Purchase requisitions of the caller's warehouses, newest first, with their lines."""

    action_permissions = REQUISITION_ACTIONS
    idempotent_actions = frozenset(REQUISITION_ACTIONS)
    serializer_class = RequisitionOutput
    filterset_class = RequisitionFilter
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self) -> QuerySet[PurchaseRequisition]:
        if self.action in REQUISITION_ACTIONS:
            return PurchaseRequisition.objects.all()
        return requisition_detail_queryset()

    def get_serializer_class(self) -> Any:
        return {"create": RequisitionCreateInput, "submit": ProcurementActionInput, "cancel": ProcurementActionInput,
                "order": ProcurementActionInput}.get(self.action or "", RequisitionOutput)

    def _detail(self, requisition_id: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(RequisitionOutput(requisition_detail_queryset().get(pk=requisition_id)).data, status=code)

    @extend_schema(request=RequisitionCreateInput, responses={201: RequisitionOutput})
    def create(self, request: Request) -> Response:
        """Raise a requisition (a draft). An unknown warehouse, SKU or supplier is 400; a unit the item does not
        have 400 ``unknown_uom``; a supplier not selling the SKU 400 ``not_sold_by_supplier``; a quantity not above
        0 400 ``invalid_quantity``; a needed-by date before today at the warehouse 400."""

        def produce() -> Response:
            fields = self._input(RequisitionCreateInput)
            requisition = purchasing.requisition_create(actor=request.user, **fields)
            return self._detail(requisition.pk, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=ProcurementActionInput, responses=RequisitionOutput)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Submit a draft for approval (its value at the suppliers' prices); a line without a supplier is 400
        ``no_supplier``; anything but a draft 409 ``invalid_transition``."""
        requisition = self.get_object()

        def produce() -> Response:
            self._input(ProcurementActionInput)
            purchasing.requisition_submit(requisition=requisition, actor=request.user)
            return self._detail(requisition.pk)

        return idempotent(request, produce)

    @extend_schema(request=ProcurementActionInput, responses=RequisitionOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a requisition not yet ordered (a pending approval is withdrawn); otherwise 409
        ``invalid_transition``."""
        requisition = self.get_object()

        def produce() -> Response:
            self._input(ProcurementActionInput)
            purchasing.requisition_cancel(requisition=requisition, actor=request.user)
            return self._detail(requisition.pk)

        return idempotent(request, produce)

    @extend_schema(request=ProcurementActionInput, responses=PurchaseOrderOutput(many=True))
    @action(detail=True, methods=["post"])
    def order(self, request: Request, pk: str | None = None) -> Response:
        """Turn an approved requisition into draft purchase orders, one per supplier, and answer them; anything
        but an approved requisition is 409 ``invalid_transition``."""
        requisition = self.get_object()

        def produce() -> Response:
            self._input(ProcurementActionInput)
            orders = purchasing.requisition_order(requisition=requisition, actor=request.user)
            made = purchase_order_detail_queryset().filter(pk__in=[o.pk for o in orders]).order_by("id")
            return Response(PurchaseOrderOutput(made, many=True).data)

        return idempotent(request, produce)


class LandedCostInput(StrictInputSerializer):
    """A freight bill that arrived after the receipt: ``freight`` {"amount", "currency", "method"} and the bill's
    reference."""

    freight = ReceiptFreightInput()
    bill_reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        freight = attrs["freight"]
        return {"bill_reference": attrs["bill_reference"],
                "freight": receiving.Freight(freight["amount"], freight["currency"], freight["method"])}


class LandedCostOutput(serializers.ModelSerializer[LandedCost]):
    receipt = serializers.CharField(source="receipt.number")
    warehouse = serializers.CharField(source="warehouse.code")

    class Meta:
        model = LandedCost
        fields = ["id", "number", "receipt", "warehouse", "bill_reference", "amount", "currency", "method", "rate",
                  "base_amount", "revalued", "issued", "posted_at"]
        read_only_fields = fields


class ReceiptViewSet(_DocumentViewSet):
    """Receipts posted at the caller's warehouses, newest first, with their lines."""

    action_permissions = {"landed_cost": "procurement.add_landedcost"}
    idempotent_actions = frozenset({"landed_cost"})
    serializer_class = PurchaseReceiptOutput
    filterset_class = ReceiptFilter
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self) -> QuerySet[Receipt]:
        return receipt_detail_queryset()

    def get_serializer_class(self) -> Any:
        return {"create": PurchaseReceiptCreateInput, "landed_cost": LandedCostInput}.get(
            self.action or "", PurchaseReceiptOutput)

    @extend_schema(request=LandedCostInput, responses={201: LandedCostOutput})
    @action(detail=True, methods=["post"], url_path="landed-cost")
    def landed_cost(self, request: Request, pk: str | None = None) -> Response:
        """Post a freight bill that arrived after this receipt: spread over its lines by ``method``, the part on
        goods still on hand raises their moving average, the rest is recorded as issued (for finance). An amount
        not above 0, a bad currency or method 400; a currency with no rate today 409 ``missing_exchange_rate``."""
        receipt = self.get_object()

        def produce() -> Response:
            fields = self._input(LandedCostInput)
            made = landed.landed_cost_post(receipt=receipt, actor=request.user, **fields)
            return Response(LandedCostOutput(LandedCost.objects.select_related("receipt", "warehouse")
                                             .get(pk=made.pk)).data, status=status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(request=PurchaseReceiptCreateInput, responses={201: PurchaseReceiptOutput})
    def create(self, request: Request) -> Response:
        """Receive against an approved, sent or partly received order and post it at once (the ledger, the order's
        ``received_quantity``). Another status is 409 ``not_receivable``; beyond the line's
        ``procurement.over_receipt_tolerance`` 409 ``over_receipt`` (unless ``allow_over`` by a supervisor or
        approver: 403 for anyone else); a lot missing for a lot-tracked item 400 ``lot_required``, given for
        another 400 ``lot_not_allowed``; an expiry before today, a bad freight or location 400."""

        def produce() -> Response:
            fields = self._input(PurchaseReceiptCreateInput)
            receipt = receiving.receipt_post(actor=request.user, **fields)
            return Response(PurchaseReceiptOutput(receipt_detail_queryset().get(pk=receipt.pk)).data,
                            status=status.HTTP_201_CREATED)

        return idempotent(request, produce)
