"""Transfers as inbound supply for promising (``inventory.supply``): what is in transit to a warehouse arrives there
on its transfer's expected arrival."""

from __future__ import annotations

from collections.abc import Sequence

from inventory.supply import Inbound
from warehouses.transfers import rules
from warehouses.transfers.models import TransferLine, in_transit_of_line


def in_transit_supply(item_ids: Sequence[int], warehouse_ids: Sequence[int]) -> list[Inbound]:
    """Per dispatched transfer line to the warehouses, what is still in transit and when it is expected (one query)."""
    rows = (TransferLine.objects
            .filter(item_id__in=list(item_ids), to_warehouse_id__in=list(warehouse_ids),
                    transfer__status__in=rules.IN_TRANSIT_STATUSES)
            .annotate(left=in_transit_of_line())
            .filter(left__gt=0)
            .values_list("item_id", "to_warehouse_id", "transfer__expected_arrival", "left", "transfer__number"))
    return [Inbound(item_id, warehouse_id, arrives_on, left, number)
            for item_id, warehouse_id, arrives_on, left, number in rows]
