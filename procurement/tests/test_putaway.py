"""Put-away rules (issue 14, point 5): a receipt's lines go to the SKU's rules, then its category's, by priority,
each location up to its maximum less what is already there, and the rest to the receiving location; the rules are
kept through the API by the warehouse's supervisors, within their scope, and bad input writes nothing.

The demo's warehouses each have RCV (receiving), storage bins A-01-01 ... A-03-04, pick faces P-01 ... P-08, QUAR,
SHIP and TRANSIT. ne.supervisor supervises region NE; ne.operator operates NE-BOS and NE-NYC.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from erp.exceptions import DomainError
from inventory.models import Item
from inventory.services import stock_receive
from inventory.tests.factories import location, warehouse
from procurement import putaway
from procurement.models import PutawayRule
from procurement.tests.helpers import D, person, twin

pytestmark = pytest.mark.django_db
URL = "/api/v1/putaway-rules/"


@pytest.fixture
def paper(demo: Any) -> Item:
    return twin("PAP-0003")


@pytest.fixture
def supervisor(demo: Any) -> Any:
    return person("ne.supervisor", "warehouse_supervisor")


def rule(product: Item | None, code: str, *, priority: int = 100, most: Any = None, category: str = "",
         site: str = "NE-BOS", active: bool = True) -> PutawayRule:
    return putaway.putaway_rule_save(actor=None, warehouse=warehouse(site), location=location(site, code),
                                     priority=priority, max_quantity=None if most is None else D(str(most)),
                                     item=product, category=category, active=active)


def place(product: Item, quantity: Any, site: str = "NE-BOS") -> list[tuple[str, Decimal]]:
    [proposal] = putaway.putaway_proposals(warehouse=warehouse(site), lines=[("k", product, D(str(quantity)))])
    assert proposal.key == "k" and sum(part.quantity for part in proposal.parts) == D(str(quantity))
    return [(part.location_code, part.quantity) for part in proposal.parts]


def stock_at(product: Item, code: str, quantity: Any, site: str = "NE-BOS") -> None:
    stock_receive(warehouse=warehouse(site), location=location(site, code), item=product, quantity=D(str(quantity)),
                  uom=product.base_uom.code, unit_cost=D("2.00"), reference="put-away test", actor=None)


# --- proposals -------------------------------------------------------------------------------------------------


def test_the_skus_rule_comes_before_its_categorys_whatever_the_priorities(paper):
    rule(None, "A-02-01", priority=1, category=paper.category, most=10)
    rule(paper, "A-01-01", priority=500, most=30)
    assert place(paper, 25) == [("A-01-01", D(25))]
    assert place(paper, 45) == [("A-01-01", D(30)), ("A-02-01", D(10)), ("RCV", D(5))]


def test_rules_of_one_sku_are_filled_by_priority_then_by_id(paper):
    rule(paper, "A-01-03", priority=20, most=5)
    rule(paper, "A-01-01", priority=10, most=5)
    rule(paper, "A-01-02", priority=20, most=5)  # made after A-01-03: after it at the same priority
    assert place(paper, 12) == [("A-01-01", D(5)), ("A-01-03", D(5)), ("A-01-02", D(2))]


def test_a_location_takes_only_its_maximum_less_what_is_already_there_in_any_status(paper):
    rule(paper, "A-01-01", priority=1, most=50)
    rule(paper, "P-01", priority=2)  # no maximum: takes the rest
    stock_at(paper, "A-01-01", 35)
    assert place(paper, 40) == [("A-01-01", D(15)), ("P-01", D(25))]
    stock_at(paper, "A-01-01", 15)  # now full
    assert place(paper, 40) == [("P-01", D(40))]


def test_lines_of_one_receipt_share_a_locations_room(paper):
    rule(paper, "A-01-01", most=30)
    proposals = putaway.putaway_proposals(warehouse=warehouse("NE-BOS"),
                                          lines=[(1, paper, D(20)), (2, paper, D(20))])
    assert [[(p.location_code, p.quantity) for p in proposal.parts] for proposal in proposals] == [
        [("A-01-01", D(20))], [("A-01-01", D(10)), ("RCV", D(10))]]
    assert proposals[1].parts[0].location_id == location("NE-BOS", "A-01-01").pk


def test_what_no_rule_places_goes_to_the_receiving_location_and_inactive_rules_or_other_sites_count_for_nothing(
        paper):
    rule(paper, "A-01-01", active=False)
    rule(paper, "A-01-02", site="NE-NYC")
    rule(None, "A-01-03", category="Beverages")
    [proposal] = putaway.putaway_proposals(warehouse=warehouse("NE-BOS"), lines=[(7, paper, D(3))])
    assert [(p.location_code, p.quantity, p.rule_id) for p in proposal.parts] == [("RCV", D(3), None)]


def test_the_number_of_queries_does_not_grow_with_the_number_of_lines(paper):
    items = list(Item.objects.filter(category__in=("Paper goods", "Cleaning", "Hardware")).order_by("sku")[:200])
    for product in items[:3]:
        rule(product, "A-01-01", priority=1, most=5)
    rule(None, "A-02-02", category="Cleaning", most=1)
    site = warehouse("NE-BOS")

    def queries(count: int) -> int:
        lines = [(n, items[n % len(items)], D(7)) for n in range(count)]
        with CaptureQueriesContext(connection) as captured:
            proposals = putaway.putaway_proposals(warehouse=site, lines=lines)
        assert len(proposals) == count and any(p.location_code == "RCV" for p in proposals[0].parts)
        assert all(sum(p.quantity for p in proposal.parts) == D(7) for proposal in proposals)
        return len(captured)

    assert queries(5) == queries(500) == 3  # the rules, the stock at their locations, the receiving location


# --- rules through the API -------------------------------------------------------------------------------------


def test_a_supervisor_adds_and_changes_a_rule(api_as, paper):
    api = api_as("ne.supervisor")
    created = api.post(URL, {"warehouse": "NE-BOS", "sku": paper.sku, "location": "A-01-01", "priority": 5,
                             "max_quantity": "40"}, format="json", HTTP_IDEMPOTENCY_KEY="put-away-1")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {k: body[k] for k in ("warehouse", "sku", "category", "location", "priority", "max_quantity", "active")} \
        == {"warehouse": "NE-BOS", "sku": paper.sku, "category": "", "location": "A-01-01", "priority": 5,
            "max_quantity": "40.0000", "active": True}
    again = api.post(URL, {"warehouse": "NE-BOS", "sku": paper.sku, "location": "A-01-01", "priority": 5,
                           "max_quantity": "40"}, format="json", HTTP_IDEMPOTENCY_KEY="put-away-1")
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    assert PutawayRule.objects.filter(item=paper).count() == 1
    changed = api.patch(f"{URL}{body['id']}/", {"category": "Cleaning", "max_quantity": None, "location": "P-02"},
                        format="json")
    assert changed.status_code == 200, changed.json()
    assert {k: changed.json()[k] for k in ("sku", "category", "location", "max_quantity", "priority")} == {
        "sku": None, "category": "Cleaning", "location": "P-02", "max_quantity": None, "priority": 5}
    listed = api.get(URL, {"warehouse": "NE-BOS", "category": "Cleaning"}).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]


def test_an_operator_reads_the_rules_but_may_not_write_them(api_as, paper, supervisor):
    made = rule(paper, "A-01-01")
    api = api_as("ne.operator")
    assert [row["id"] for row in api.get(URL, {"sku": paper.sku}).json()["results"]] == [made.pk]
    refused = api.post(URL, {"warehouse": "NE-BOS", "sku": paper.sku, "location": "A-01-02"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert api.patch(f"{URL}{made.pk}/", {"priority": 1}, format="json").status_code == 403
    assert PutawayRule.objects.filter(item=paper).count() == 1
    assert PutawayRule.objects.get(pk=made.pk).priority == 100


def test_a_user_of_another_warehouse_neither_sees_nor_makes_its_rules(api_as, paper):
    made = rule(paper, "A-01-01")
    person("se.supervisor", "warehouse_supervisor", warehouses=("SE-ATL",))
    api = api_as("se.supervisor")
    assert api.get(URL, {"sku": paper.sku}).json()["results"] == []
    hidden = api.get(f"{URL}{made.pk}/")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert api.patch(f"{URL}{made.pk}/", {"priority": 1}, format="json").status_code == 404
    outside = api.post(URL, {"warehouse": "NE-BOS", "sku": paper.sku, "location": "A-01-02"}, format="json")
    assert outside.status_code == 404 and outside.json()["code"] == "not_found", outside.json()
    assert PutawayRule.objects.filter(item=paper).count() == 1
    inside = api.post(URL, {"warehouse": "SE-ATL", "sku": paper.sku, "location": "A-01-02"}, format="json")
    assert inside.status_code == 201, inside.json()


BAD_INPUT = [
    ("both SKU and category", {"category": "Cleaning"}, 400, "category"),
    ("neither SKU nor category", {"sku": None}, 400, "sku"),
    ("an unknown SKU", {"sku": "NO-SUCH"}, 400, "sku"),
    ("a category no item has", {"sku": None, "category": "Kryptonite"}, 400, "category"),
    ("an unknown warehouse", {"warehouse": "XX-NOPE"}, 400, "warehouse"),
    ("an unknown location", {"location": "NO-SUCH-BIN"}, 400, "location"),
    ("a receiving location", {"location": "RCV"}, 400, "location"),
    ("a quarantine location", {"location": "QUAR"}, 400, "location"),
    ("a transit location", {"location": "TRANSIT"}, 400, "location"),
    ("a shipping dock", {"location": "SHIP"}, 400, "location"),
    ("a negative priority", {"priority": -1}, 400, "priority"),
    ("a priority beyond 32767", {"priority": 32768}, 400, "priority"),
    ("a priority that is not a number", {"priority": "first"}, 400, "priority"),
    ("a maximum of 0", {"max_quantity": "0"}, 400, "max_quantity"),
    ("a negative maximum", {"max_quantity": "-5"}, 400, "max_quantity"),
    ("a maximum that is not a number", {"max_quantity": "lots"}, 400, "max_quantity"),
    ("an unknown field", {"colour": "red"}, 400, "colour"),
    ("the same SKU and location again", {}, 409, "location"),
]


@pytest.mark.parametrize(("case", "change", "status", "field"), BAD_INPUT, ids=[row[0] for row in BAD_INPUT])
def test_bad_input_is_refused_in_the_error_shape_and_writes_nothing(api_as, paper, case, change, status, field):
    existing = rule(paper, "A-01-01")
    api = api_as("ne.supervisor")
    before = PutawayRule.objects.count()
    body = {"warehouse": "NE-BOS", "sku": paper.sku, "location": "A-01-01", "priority": 10, **change}
    answer = api.post(URL, body, format="json")
    assert answer.status_code == status, (case, answer.json())
    error = answer.json()
    assert set(error) == {"code", "message", "detail"} and error["message"]
    assert field in error["detail"], (case, error)
    assert PutawayRule.objects.count() == before
    if status == 409:
        assert error["code"] == "duplicate_putaway_rule" and "A-01-01" in error["message"]
    patched = api.patch(f"{URL}{existing.pk}/", {"sku": paper.sku, **change}, format="json")
    assert patched.status_code == (400 if status == 400 else 200), (case, patched.json())
    unchanged = PutawayRule.objects.get(pk=existing.pk)
    assert (unchanged.location.code, unchanged.item_id, unchanged.category, unchanged.priority,
            unchanged.max_quantity) == ("A-01-01", paper.pk, "", 100, None)


def test_a_patch_onto_another_rules_place_is_a_conflict_and_changes_nothing(api_as, paper):
    rule(paper, "A-01-01")
    other = rule(paper, "A-01-02", priority=7)
    answer = api_as("ne.supervisor").patch(f"{URL}{other.pk}/", {"location": "A-01-01"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "duplicate_putaway_rule"
    assert PutawayRule.objects.get(pk=other.pk).location.code == "A-01-02"


def test_the_service_refuses_a_location_of_another_warehouse(paper):
    with pytest.raises(DomainError) as refused:
        putaway.putaway_rule_save(actor=None, warehouse=warehouse("NE-BOS"), location=location("NE-NYC", "A-01-01"),
                                  priority=1, max_quantity=None, item=paper)
    assert refused.value.status == 400 and "not in warehouse NE-BOS" in refused.value.detail["location"][0]
    assert not PutawayRule.objects.filter(item=paper).exists()


# --- the screens -----------------------------------------------------------------------------------------------


def test_the_rules_screen_lists_a_warehouses_rules_and_a_supervisor_adds_one_there(client, paper, supervisor):
    rule(paper, "A-01-01", priority=3)
    rule(paper, "A-01-02", site="NE-NYC")
    client.force_login(supervisor)
    page = client.get("/putaway-rules/", {"warehouse": "NE-BOS"})
    assert page.status_code == 200
    html = page.content.decode()
    assert paper.sku in html and "A-01-01" in html and "A-01-02" not in html and "New rule" in html
    refused = client.post("/putaway-rules/new/", {"warehouse": "NE-BOS", "sku": paper.sku, "category": "Cleaning",
                                                  "location": "P-03", "priority": "1", "active": "on"})
    assert refused.status_code == 400 and "not both" in refused.content.decode()
    done = client.post("/putaway-rules/new/", {"warehouse": "NE-BOS", "sku": paper.sku, "location": "P-03",
                                               "priority": "1", "max_quantity": "12", "active": "on"})
    assert done.status_code == 302 and done["Location"].endswith("?warehouse=NE-BOS")
    made = PutawayRule.objects.get(item=paper, location__code="P-03")
    assert (made.priority, made.max_quantity, made.active) == (1, D(12), True)


def test_an_operator_sees_the_rules_screen_but_not_the_form(client, paper, user):
    rule(paper, "A-01-01")
    client.force_login(user("ne.operator"))
    page = client.get("/putaway-rules/")
    assert page.status_code == 200 and paper.sku in page.content.decode() and "New rule" not in page.content.decode()
    assert client.get("/putaway-rules/new/").status_code == 403
