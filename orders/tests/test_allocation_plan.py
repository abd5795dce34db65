"""The allocation plan each process keeps: rebuilt the moment what it is made of changes, and free otherwise."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from erp import generations
from governance.models import Policy
from orders.models import Customer
from orders.selectors import PLAN_GENERATION, allocation_plan, plan_for
from tests.clock import WEDNESDAY_10AM
from warehouses.models import CarrierLane, Warehouse
from warehouses.services import warehouse_update

pytestmark = pytest.mark.django_db


def _buyer() -> tuple[Customer, Any]:
    buyer = Customer.objects.select_related("home_warehouse").get(code="C-NE-001")
    return buyer, buyer.ship_tos.get(code="MAIN")


def _plan(now: dt.datetime = WEDNESDAY_10AM) -> Any:
    buyer, ship_to = _buyer()
    return allocation_plan(home_warehouse_id=buyer.home_warehouse_id, ship_to_region_id=ship_to.region_id,
                           split_accepted=buyer.allow_partial_shipment, now=now,
                           generation=generations.current(PLAN_GENERATION))


def test_a_kept_plan_costs_no_query_and_a_new_generation_reads_it_again(demo):
    first = _plan()
    buyer, ship_to = _buyer()
    generation = generations.current(PLAN_GENERATION)
    with CaptureQueriesContext(connection) as kept:
        again = allocation_plan(home_warehouse_id=buyer.home_warehouse_id, ship_to_region_id=ship_to.region_id,
                                split_accepted=buyer.allow_partial_shipment, now=WEDNESDAY_10AM,
                                generation=generation)
    assert kept.captured_queries == []
    assert again.candidate_ids == first.candidate_ids and again.lot_rule == first.lot_rule

    before = generations.current(PLAN_GENERATION)
    Policy.objects.filter(key="fulfillment.lot_selection").update(standard_value="fifo")
    assert generations.current(PLAN_GENERATION) != before
    assert _plan().lot_rule == "fifo"


@pytest.mark.parametrize("change", ["deactivate a candidate", "close the lane", "delete the lane"])
def test_every_change_to_what_a_plan_is_made_of_is_seen_by_the_next_plan(demo, change):
    plan = _plan()
    assert len(plan.candidate_ids) >= 2, "the demo's NE customers have a second warehouse in their region"
    second = Warehouse.objects.get(pk=plan.candidate_ids[1])
    if change == "deactivate a candidate":
        warehouse_update(warehouse=second, actor=None, active=False)
        assert second.pk not in _plan().candidate_ids
    else:
        _, ship_to = _buyer()
        lanes = CarrierLane.objects.filter(destination_region_id=ship_to.region_id,
                                           origin_region_id=second.region_id)
        lanes.update(transit_days=9) if change == "close the lane" else lanes.delete()
        after = _plan()
        if change == "close the lane":
            assert after.sites[second.pk].transit_days == 9
        else:
            assert second.pk not in after.candidate_ids


def test_with_no_generation_known_nothing_is_kept(demo):
    buyer, ship_to = _buyer()
    plan_for(buyer, ship_to, WEDNESDAY_10AM)
    with CaptureQueriesContext(connection) as unknown:
        allocation_plan(home_warehouse_id=buyer.home_warehouse_id, ship_to_region_id=ship_to.region_id,
                        split_accepted=True, now=WEDNESDAY_10AM, generation=None)
    assert len(unknown.captured_queries) >= 3  # warehouses, policies, lanes: read every time


def test_a_kept_frame_still_works_out_ship_dates_from_the_hour(demo):
    morning = _plan(WEDNESDAY_10AM)
    night = _plan(WEDNESDAY_10AM.replace(hour=23))  # after every cutoff: each warehouse ships a day later at least
    assert morning.candidate_ids == night.candidate_ids
    for pk in morning.candidate_ids:
        assert night.sites[pk].ship_date > morning.sites[pk].ship_date
