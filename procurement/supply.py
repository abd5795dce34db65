"""Purchase orders as inbound supply (``inventory.supply``): what promising may count on and what availability shows
as ``on_order``.

An approved order's line (``rules.ON_ORDER_STATUSES``) not yet received in full is on order at its receiving
warehouse: its open quantity, whatever its date. Promising counts it from its expected date plus the warehouse's
``fulfillment.inbound_buffer_days`` working days (receiving and put-away), so a backorder waiting on it is
promised from the day the stock can ship, not the day the truck is due. A draft, an order waiting for approval or
one closed, cancelled or received in full is not supply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import F, QuerySet

from inventory.supply import Inbound
from orders import rules as order_rules
from procurement import rules
from procurement.models import PurchaseOrderLine, open_quantity_of_line
from warehouses.models import Warehouse

BUFFER_POLICY = "fulfillment.inbound_buffer_days"


def _open_lines() -> QuerySet[PurchaseOrderLine]:
    """The open lines (not received in full) of approved orders."""
    return PurchaseOrderLine.objects.filter(order__status__in=rules.ON_ORDER_STATUSES,
                                            quantity__gt=F("received_quantity"))


def on_order_rows() -> QuerySet[Any]:
    """The open quantity of every open line as rows ``(item_id, warehouse_id, quantity)``: a query availability
    narrows to its items and joins into its own."""
    return _open_lines().annotate(left=open_quantity_of_line()).values_list("item_id", "warehouse_id", "left")


def _buffer_days(sites: dict[int, tuple[int, str]]) -> dict[int, int]:
    """``fulfillment.inbound_buffer_days`` at each warehouse (id -> (region id, time zone)), in one query."""
    from governance.selectors import policy_values_at_warehouses

    warehouses = [Warehouse(pk=pk, region_id=region_id, timezone=zone) for pk, (region_id, zone) in sites.items()]
    values = policy_values_at_warehouses([BUFFER_POLICY], warehouses)
    return {pk: int(found[BUFFER_POLICY]) for pk, found in values.items()}


def purchase_order_supply(item_ids: Sequence[int], warehouse_ids: Sequence[int]) -> list[Inbound]:
    """Per open line to the warehouses, its open quantity, promisable on its expected date plus the receiving
    warehouse's buffer in working days (``orders.rules.add_transit`` over the warehouse's working week); the source
    is ``number/line``. One query for the lines and, when there are any, one for the buffers."""
    rows = list(_open_lines().filter(item_id__in=list(item_ids), warehouse_id__in=list(warehouse_ids))
                .annotate(left=open_quantity_of_line())
                .values_list("item_id", "warehouse_id", "expected_date", "left", "order__number", "line_no",
                             "warehouse__region_id", "warehouse__timezone")
                .order_by())
    if not rows:
        return []
    buffers = _buffer_days({row[1]: (row[6], row[7]) for row in rows})
    working_days = order_rules.STANDARD_WORKING_DAYS  # a warehouse has no calendar of its own yet
    return [Inbound(item_id, warehouse_id, order_rules.add_transit(expected, buffers[warehouse_id], working_days),
                    left, f"{number}/{line_no}")
            for item_id, warehouse_id, expected, left, number, line_no, _, _ in rows]
