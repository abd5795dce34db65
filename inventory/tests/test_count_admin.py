"""The cycle-count admins: read-only, scoped by the user's warehouses, and blind while a count is open."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erp import services as platform
from inventory import services
from inventory.models import CycleCount, CycleCountLine, CycleCountStatus, ItemAbcClass
from inventory.services.counts import CountEntry, CountPair, cycle_count_create, cycle_count_record, cycle_count_submit
from inventory.tests.factories import item, storage_locations, warehouse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock")]

D = Decimal
BLIND_COLUMNS = (b"column-expected_quantity", b"column-variance", b"column-unit_cost", b"column-variance_value",
                 b"column-within_tolerance")


def _url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:inventory_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def superuser_client(user: Any) -> Client:
    client = Client()
    client.force_login(user("admin"))
    return client


@pytest.fixture
def boston_counter_client(demo: Any) -> Client:
    """A staff warehouse operator whose scope is the one warehouse NE-BOS."""
    counter = platform.user_upsert(username="bos.counter", actor=None, is_staff=True, roles=["warehouse_operator"])
    platform.scope_grant(user=counter, actor=None, warehouses=[warehouse("NE-BOS")])
    client = Client()
    client.force_login(counter)
    return client


def _open_count(quantities: list[str]) -> CycleCount:
    """A stock-free twin received at the first NE-BOS bins (137 EA each), counted as ``quantities``."""
    twin = item("CLN-0001")
    spots = storage_locations("NE-BOS")[:len(quantities)]
    for spot in spots:
        services.stock_receive(warehouse=warehouse(), location=spot, item=twin, quantity=D(137), uom="EA",
                               unit_cost=D(1), reference="admin test", actor=None)
    count = cycle_count_create(warehouse=warehouse(), pairs=[CountPair(location=spot, item=twin) for spot in spots],
                               actor=None)
    cycle_count_record(count=count, actor=None, entries=[
        CountEntry(location=spot, item=twin, quantity=D(found), uom="EA")
        for spot, found in zip(spots, quantities, strict=True)])
    return count


def test_an_operator_sees_only_the_counts_and_abc_classes_of_their_warehouses(boston_counter_client):
    assert CycleCount.objects.exclude(warehouse__code="NE-BOS").exists()  # the demo plans every warehouse
    response = boston_counter_client.get(_url(CycleCount, "changelist"))

    assert response.status_code == 200
    counts = response.context["cl"].result_list
    assert counts and {count.warehouse.code for count in counts} == {"NE-BOS"}
    for foreign in (b"NE-NYC", b"EU-RTM", b"SE-ATL"):  # not even in the sidebar filters
        assert foreign not in response.content, foreign
    elsewhere = CycleCount.objects.filter(warehouse__code="NE-NYC").first()
    assert boston_counter_client.get(_url(CycleCount, "change", elsewhere.pk)).status_code in (302, 404)

    classes = boston_counter_client.get(_url(ItemAbcClass, "changelist"))
    assert classes.status_code == 200
    rows = classes.context["cl"].result_list
    assert rows and {row.warehouse.code for row in rows} == {"NE-BOS"}
    assert b"NE-NYC" not in classes.content


def test_the_lines_of_another_warehouses_count_never_reach_an_operators_inline(boston_counter_client):
    mine = CycleCount.objects.filter(warehouse__code="NE-BOS").first()
    response = boston_counter_client.get(_url(CycleCount, "change", mine.pk))

    assert response.status_code == 200
    lines = [form.instance for form in response.context["inline_admin_formsets"][0].formset.forms]
    assert lines and {line.warehouse_id for line in lines} == {mine.warehouse_id}


def test_an_open_count_shows_what_was_counted_but_not_what_was_expected_until_it_is_submitted(superuser_client):
    count = _open_count(["136"])

    response = superuser_client.get(_url(CycleCount, "change", count.pk))

    assert response.status_code == 200
    assert b"136.0000" in response.content  # the counted quantity is the counter's own
    for column in BLIND_COLUMNS:
        assert column not in response.content, column
    assert b"137.0000" not in response.content and b"Expected quantity" not in response.content

    cycle_count_submit(count=count, actor=None)
    response = superuser_client.get(_url(CycleCount, "change", count.pk))

    assert response.status_code == 200
    for column in BLIND_COLUMNS:
        assert column in response.content, column
    assert b"137.0000" in response.content and b"-1.0000" in response.content


def test_the_count_and_abc_admins_render_for_the_superuser_and_offer_no_way_to_write(superuser_client):
    count = _open_count(["137"])
    for model, first in ((CycleCount, count), (ItemAbcClass, ItemAbcClass.objects.order_by("pk").first())):
        changelist = superuser_client.get(_url(model, "changelist"))
        assert changelist.status_code == 200, model
        assert superuser_client.get(_url(model, "change", first.pk)).status_code == 200, model
        request = changelist.wsgi_request
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request, first), model
        assert not model_admin.has_delete_permission(request, first), model
        assert superuser_client.get(_url(model, "add")).status_code == 403, model
        assert superuser_client.post(_url(model, "delete", first.pk), {"post": "yes"}).status_code == 403, model
    # Submitting through a change form is not possible either: the count is unchanged.
    superuser_client.post(_url(CycleCount, "change", count.pk), {"status": "posted"})
    assert CycleCount.objects.get(pk=count.pk).status == CycleCountStatus.OPEN
    assert CycleCountLine not in admin.site._registry  # lines are shown only inside their count


def test_abc_classes_filter_by_warehouse_and_class(superuser_client):
    boston = warehouse("NE-BOS")
    response = superuser_client.get(_url(ItemAbcClass, "changelist"),
                                    {"warehouse__id__exact": boston.pk, "abc_class__exact": "A"})

    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert rows and {(row.warehouse_id, row.abc_class) for row in rows} == {(boston.pk, "A")}


def test_a_count_page_renders_its_lines_in_a_constant_number_of_queries(superuser_client):
    small = _open_count(["137"])
    cycle_count_submit(count=small, actor=None)
    large = cycle_count_create(warehouse=warehouse(), actor=None, pairs=[
        CountPair(location=spot, item=item("CLN-0001")) for spot in storage_locations("NE-BOS")[:4]])
    cycle_count_submit(count=large, actor=None, entries=[
        CountEntry(location=spot, item=item("CLN-0001"), quantity=D(137), uom="EA")
        for spot in storage_locations("NE-BOS")[:4]])
    queries = []
    for count in (small, large):
        with CaptureQueriesContext(connection) as captured:
            response = superuser_client.get(_url(CycleCount, "change", count.pk))
        assert response.status_code == 200
        queries.append(len(captured))
    assert CycleCountLine.objects.filter(count=large).count() == 4
    assert queries[0] == queries[1], queries
