"""Supplier items (issue 14, point 1): per supplier and SKU the supplier's code, price and currency, minimum, packs
and lead time; one preferred supplier per SKU, and a region's own choice as a governed deviation of
``procurement.preferred_suppliers``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erp.exceptions import DomainError
from governance.services.deviations import deviation_approve, deviation_request
from inventory.models import Item
from inventory.tests.factories import warehouse
from procurement import services
from procurement.models import Supplier, SupplierItem
from procurement.selectors import preferred_supplier_item, preferred_supplier_items
from procurement.tests.helpers import D, offer, person, twin

pytestmark = pytest.mark.django_db
URL = "/api/v1/suppliers/{code}/items/"


@pytest.fixture
def paper(demo: Any) -> Item:
    return twin("PAP-0014")


@pytest.fixture
def buyer(demo: Any) -> Any:
    return person("si.buyer", "buyer", enterprise=True)


def _supplier(code: str) -> Supplier:
    return Supplier.objects.get(code=code)


def _preferred_codes(product: Item) -> list[str]:
    return list(SupplierItem.objects.filter(item=product, preferred=True).values_list("supplier__code", flat=True))


# --- the service ------------------------------------------------------------------------------------------------


def test_saving_creates_a_supplier_item_in_the_base_unit_and_the_suppliers_currency_and_saving_again_updates_it(
        paper, buyer):
    made = services.supplier_item_save(supplier=_supplier("NORD"), item=paper, actor=buyer, supplier_sku="N-14",
                                       unit_price=D("3.25"), min_order_quantity=D(50), pack_multiple=D(25),
                                       lead_time_days=10)
    assert (made.uom_id, made.currency, made.unit_price, made.min_order_quantity, made.pack_multiple,
            made.lead_time_days, made.preferred, made.active) == (
        paper.base_uom_id, "EUR", D("3.25"), D(50), D(25), 10, False, True)
    again = services.supplier_item_save(supplier=_supplier("NORD"), item=paper, actor=buyer, unit_price=D("3.10"))
    assert again.pk == made.pk and SupplierItem.objects.filter(item=paper).count() == 1
    assert SupplierItem.objects.get(pk=made.pk).unit_price == D("3.10")
    assert SupplierItem.objects.get(pk=made.pk).supplier_sku == "N-14"


def test_making_another_supplier_preferred_takes_the_mark_from_the_first(paper, buyer):
    services.supplier_item_save(supplier=_supplier("NORD"), item=paper, actor=buyer, unit_price=D(4), preferred=True)
    assert _preferred_codes(paper) == ["NORD"]
    services.supplier_item_save(supplier=_supplier("ACME"), item=paper, actor=buyer, unit_price=D(5), preferred=True)
    assert _preferred_codes(paper) == ["ACME"]
    assert preferred_supplier_item(paper, warehouse("NE-BOS")).supplier.code == "ACME"


def test_an_inactive_supplier_is_refused_and_nothing_is_written(paper, buyer):
    services.supplier_update(supplier=_supplier("GULF"), actor=buyer, active=False)
    with pytest.raises(DomainError) as refused:
        services.supplier_item_save(supplier=_supplier("GULF"), item=paper, actor=buyer, unit_price=D(4))
    assert refused.value.status == 400 and "inactive" in refused.value.detail["supplier"][0]
    assert not SupplierItem.objects.filter(item=paper).exists()


# --- the region's own preferred supplier ------------------------------------------------------------------------


def _region_choice(user: Any, region: str, choice: dict[str, str]) -> None:
    today = timezone.now().astimezone(dt.UTC).date()  # a region deviation's calendar
    deviation = deviation_request(
        policy_key="procurement.preferred_suppliers", scope_type="region", scope_code=region, value=choice,
        rationale="The region buys this SKU nearer home.", effective_from=today,
        effective_to=today + dt.timedelta(days=30), actor=user("planner"))
    deviation_approve(deviation=deviation, actor=user("owner"))


def test_a_regions_deviation_buys_from_its_own_supplier_and_the_others_keep_the_preferred_one(paper, user):
    soap = twin("CLN-0014")
    offer(paper, "NORD", preferred=True)
    offer(paper, "RHEIN", price="4.50")
    offer(soap, "ACME", preferred=True)
    _region_choice(user, "EU", {paper.sku: "RHEIN", soap.sku: "NOBODY"})
    eu, ne = warehouse("EU-RTM"), warehouse("NE-BOS")
    assert preferred_supplier_item(paper, eu).supplier.code == "RHEIN"
    assert preferred_supplier_item(paper, ne).supplier.code == "NORD"
    # A code that names no supplier selling the SKU falls back to the preferred one.
    assert preferred_supplier_item(soap, eu).supplier.code == "ACME"
    bare = twin("CLN-0015")
    assert preferred_supplier_item(bare, eu) is None
    with CaptureQueriesContext(connection) as queries:
        found = preferred_supplier_items([paper.pk, soap.pk, bare.pk], eu)
    assert {pk: si.supplier.code for pk, si in found.items()} == {paper.pk: "RHEIN", soap.pk: "ACME"}
    assert len(queries) <= 3
    # Once the region's supplier stops selling it, the region buys from the preferred one again.
    services.supplier_item_save(supplier=_supplier("RHEIN"), item=paper, actor=user("buyer"), active=False)
    assert preferred_supplier_item(paper, eu).supplier.code == "NORD"


def test_the_policy_refuses_a_value_that_is_not_codes_by_key(user):
    today = timezone.now().astimezone(dt.UTC).date()
    with pytest.raises(DomainError) as refused:
        deviation_request(policy_key="procurement.preferred_suppliers", scope_type="region", scope_code="EU",
                          value={"PAP-0014": 7}, rationale="x", effective_from=today,
                          effective_to=today + dt.timedelta(days=3), actor=user("planner"))
    assert refused.value.status == 400 and "PAP-0014" in str(refused.value.detail)


# --- the API ------------------------------------------------------------------------------------------------------


def test_a_buyer_adds_reads_lists_and_changes_a_supplier_item(api_as, paper):
    api = api_as("buyer")
    created = api.post(URL.format(code="NORD"), {"sku": paper.sku, "supplier_sku": "N-14", "unit_price": "3.50",
                                                 "currency": "EUR", "min_order_quantity": "10",
                                                 "lead_time_days": 12, "preferred": True}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["supplier"], body["sku"], body["uom"], body["preferred"], body["lead_time_days"]) == (
        "NORD", paper.sku, paper.base_uom.code, True, 12)
    detail = api.get(URL.format(code="NORD") + f"{paper.sku}/")
    assert detail.status_code == 200 and detail.json()["supplier_sku"] == "N-14"
    listed = api.get(URL.format(code="NORD"), {"sku": paper.sku, "preferred": "true"})
    assert [row["sku"] for row in listed.json()["results"]] == [paper.sku]
    assert api.get(URL.format(code="NORD"), {"sku": paper.sku, "preferred": "false"}).json()["results"] == []
    changed = api.patch(URL.format(code="NORD") + f"{paper.sku}/", {"unit_price": "3.40", "pack_multiple": "5"},
                        format="json")
    assert changed.status_code == 200, changed.content
    row = SupplierItem.objects.get(supplier__code="NORD", item=paper)
    assert (row.unit_price, row.pack_multiple, row.min_order_quantity, row.preferred) == (D("3.4"), D(5), D(10), True)
    twice = api.post(URL.format(code="NORD"), {"sku": paper.sku, "unit_price": "9.00"}, format="json")
    assert twice.status_code == 400 and "already sells" in twice.json()["detail"]["sku"][0]
    assert SupplierItem.objects.get(pk=row.pk).unit_price == D("3.4")
    assert api.get(URL.format(code="NOBODY")).status_code == 404


BAD_INPUT = [
    ({"sku": "NO-SUCH-SKU"}, "sku"),
    ({"uom": "PALLET-X"}, "uom"),
    ({"unit_price": "0"}, "unit_price"),
    ({"unit_price": "-1"}, "unit_price"),
    ({"currency": "eur"}, "currency"),
    ({"currency": "EURO"}, "currency"),
    ({"min_order_quantity": "0"}, "min_order_quantity"),
    ({"pack_multiple": "-2"}, "pack_multiple"),
    ({"lead_time_days": 366}, "lead_time_days"),
    ({"lead_time_days": -1}, "lead_time_days"),
    ({"preferred": "maybe"}, "preferred"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUT)
def test_bad_input_is_a_400_on_its_field_and_writes_nothing(api_as, paper, change, field):
    payload = {"sku": paper.sku, "unit_price": "3.50", **change}
    answer = api_as("buyer").post(URL.format(code="NORD"), payload, format="json")
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["code"] == "validation_error" and field in body["detail"], body
    assert not SupplierItem.objects.filter(item__sku=paper.sku).exists()


def test_an_inactive_sku_is_a_400_and_writes_nothing(api_as, paper):
    Item.objects.filter(pk=paper.pk).update(active=False)
    answer = api_as("buyer").post(URL.format(code="NORD"), {"sku": paper.sku, "unit_price": "3"}, format="json")
    assert answer.status_code == 400 and "inactive" in answer.json()["detail"]["sku"][0]
    assert not SupplierItem.objects.filter(item=paper).exists()


def test_an_operator_reads_supplier_items_but_cannot_add_or_change_them(api_as, paper):
    offer(paper, "NORD")
    api = api_as("ne.operator")
    assert api.get(URL.format(code="NORD"), {"sku": paper.sku}).json()["results"][0]["sku"] == paper.sku
    assert api.post(URL.format(code="ACME"), {"sku": paper.sku, "unit_price": "3"},
                    format="json").status_code == 403
    assert api.patch(URL.format(code="NORD") + f"{paper.sku}/", {"preferred": True},
                     format="json").status_code == 403
    assert not SupplierItem.objects.filter(item=paper, supplier__code="ACME").exists()
    assert not SupplierItem.objects.get(item=paper, supplier__code="NORD").preferred


# --- the race -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_buyers_making_two_suppliers_preferred_at_once_leave_exactly_one(demo):
    from tests.races import race

    product = twin("PAP-0015")
    buyer = person("si.buyer", "buyer", enterprise=True)
    offer(product, "NORD")
    offer(product, "ACME")
    for _ in range(3):
        outcomes = race(
            lambda: services.supplier_item_save(supplier=_supplier("NORD"), item=product, actor=buyer,
                                                preferred=True),
            lambda: services.supplier_item_save(supplier=_supplier("ACME"), item=product, actor=buyer,
                                                preferred=True))
        assert all(isinstance(o, SupplierItem) for o in outcomes), outcomes
        assert len(_preferred_codes(product)) == 1
        SupplierItem.objects.filter(item=product).update(preferred=False)
