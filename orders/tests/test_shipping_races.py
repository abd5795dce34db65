"""Packing and shipping under concurrency: real threads, each on its own PostgreSQL connection, committed data.

Every race ends with ``check_inventory_invariants`` and ``check_order_invariants``. Exactly one of two conflicting
commands wins; the loser gets a domain refusal (409), never a deadlock, a serialization failure or a 500.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from inventory.models import ItemWarehouseSummary, StockMove
from inventory.tests.factories import ensure_standard_statuses, item, warehouse
from orders.exceptions import InvalidOrderTransition, InvalidShipmentTransition, NothingPicked
from orders.models import Allocation, AllocationStatus, OrderStatus, SalesOrder, Shipment, ShipmentStatus
from orders.services.sales import sales_order_cancel
from orders.services.shipping import shipment_create, shipment_ship
from orders.tests.scope_shipping import BOX, packed, picked_order
from tests.races import race

D = Decimal
ROUNDS = 4

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def twin(demo: Any) -> Any:
    ensure_standard_statuses()
    return item("CLN-0003")


def _invariants_hold() -> None:
    for name in ("check_inventory_invariants", "check_order_invariants"):
        out = StringIO()
        call_command(name, stdout=out, stderr=out)
        assert "hold" in out.getvalue(), out.getvalue()


def _summary(twin: Any) -> tuple[Decimal, Decimal]:
    row = ItemWarehouseSummary.objects.get(item=twin, warehouse__code="NE-BOS")
    return row.on_hand, row.allocated


def test_cancel_racing_ship_is_safe_the_shipment_leaves_and_the_cancel_is_refused(twin):
    """A packed shipment holds the order: whichever takes the order's lock first, the goods leave exactly once
    and the cancel is refused (the order is packed, or already shipped)."""
    for _ in range(ROUNDS):
        shipment = packed(picked_order(twin, 3, 2))
        on_hand, allocated = _summary(twin)

        shipped, cancelled = race(lambda s=shipment: shipment_ship(shipment=s, actor=None),
                                  lambda s=shipment: sales_order_cancel(order=s.order, actor=None))

        assert isinstance(shipped, Shipment) and shipped.status == ShipmentStatus.SHIPPED, shipped
        assert isinstance(cancelled, InvalidOrderTransition), cancelled
        assert SalesOrder.objects.get(pk=shipment.order_id).status == OrderStatus.SHIPPED
        assert StockMove.objects.filter(reference_type="shipment", reference_id=str(shipment.pk)).count() == 2
        assert _summary(twin) == (on_hand - 5, allocated - 5)
        _invariants_hold()


def test_cancel_racing_pack_is_safe_exactly_one_wins(twin):
    """Picked but not packed: either the pack wins (the cancel is refused, the goods are packed) or the cancel wins
    (the allocations are released and there is nothing left to pack)."""
    winners = set()
    for _ in range(ROUNDS):
        order = picked_order(twin, 2)
        on_hand, allocated = _summary(twin)

        made, cancelled = race(
            lambda o=order: shipment_create(order=o, warehouse=warehouse("NE-BOS"), actor=None, packages=[BOX]),
            lambda o=order: sales_order_cancel(order=o, actor=None))

        if isinstance(made, Shipment):
            winners.add("pack")
            assert isinstance(cancelled, InvalidOrderTransition), cancelled
            assert SalesOrder.objects.get(pk=order.pk).status == OrderStatus.PACKED
            assert _summary(twin) == (on_hand, allocated)
        else:
            winners.add("cancel")
            assert isinstance(made, NothingPicked), made
            assert isinstance(cancelled, SalesOrder) and cancelled.status == OrderStatus.CANCELLED, cancelled
            assert not Shipment.objects.filter(order=order).exists()
            assert _summary(twin) == (on_hand, allocated - 2)
            assert set(Allocation.objects.filter(line__order=order).values_list("status", flat=True)) == {
                AllocationStatus.RELEASED}
        _invariants_hold()
    assert winners  # which one wins is the scheduler's call; each round had exactly one


def test_shipping_one_shipment_twice_at_once_posts_once(twin):
    for _ in range(ROUNDS):
        shipment = packed(picked_order(twin, 4))
        on_hand, allocated = _summary(twin)

        outcomes = race(*[lambda s=shipment: shipment_ship(shipment=s, actor=None) for _ in range(3)])

        assert sum(isinstance(o, Shipment) for o in outcomes) == 1, outcomes
        assert all(isinstance(o, (Shipment, InvalidShipmentTransition)) for o in outcomes), outcomes
        assert StockMove.objects.filter(reference_type="shipment", reference_id=str(shipment.pk)).count() == 1
        assert _summary(twin) == (on_hand - 4, allocated - 4)
        _invariants_hold()


def test_packing_the_same_picked_lines_twice_at_once_makes_one_shipment(twin):
    order = picked_order(twin, 2, 1)

    outcomes = race(*[lambda: shipment_create(order=order, warehouse=warehouse("NE-BOS"), actor=None,
                                              packages=[BOX]) for _ in range(3)])

    assert sum(isinstance(o, Shipment) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, (Shipment, NothingPicked)) for o in outcomes), outcomes
    assert Shipment.objects.filter(order=order).count() == 1
    _invariants_hold()


def test_the_same_pack_sent_three_times_at_once_with_one_key_makes_one_shipment(twin, api_as):
    from django.urls import reverse

    order = picked_order(twin, 2)
    body = {"order": order.number, "warehouse": "NE-BOS", "carrier": "UPS", "packages": [{"weight_kg": "2.5"}]}
    clients = [api_as("ne.operator") for _ in range(3)]

    responses = race(*[lambda c=client: c.post(reverse("api:shipment-list"), body, format="json",
                                               HTTP_IDEMPOTENCY_KEY="pack-once") for client in clients])

    assert [r.status_code for r in responses] == [201, 201, 201], [r.content[:300] for r in responses]
    assert all(r.json() == responses[0].json() for r in responses)
    assert Shipment.objects.filter(order=order).count() == 1
    _invariants_hold()
