"""Freight billed after its receipt (issue 14, point 6): the part of the bill on goods still on hand raises their
moving average; the part on goods already issued is recorded apart for finance; the lines add up to the cent."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from erp.exceptions import DomainError
from inventory.models import ItemCost
from inventory.services import stock_adjust_post
from inventory.tests.factories import location, warehouse
from procurement import landed, receiving
from procurement.models import LandedCost, LandedCostLine
from procurement.tests.helpers import D, approved, offer, person, twin

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(demo: Any) -> Any:
    product = twin("PAP-0011")
    offer(product, "NORD", price="4.00")
    return product


def _received(product: Any, quantity: int) -> Any:
    operator = person("rcv.operator", "warehouse_operator", warehouses=("NE-BOS",))
    return receiving.receipt_post(purchase_order=approved(product, quantity), actor=operator,
                                  lines=[receiving.ReceiptLineSpec(line_no=1, quantity=D(quantity),
                                                                   location="A-01-01")])


def test_a_later_freight_bill_revalues_what_is_on_hand_and_records_what_was_issued(paper):
    receipt = _received(paper, 100)  # 100 at 4.32 USD
    stock_adjust_post(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=paper,
                      quantity=D(-40), uom="EA", reason="LOST", actor=None)
    cost = ItemCost.objects.get(item=paper, legal_entity=warehouse("NE-BOS").legal_entity)
    assert (cost.quantity, cost.unit_cost) == (D(60), D("4.32"))
    bill = landed.landed_cost_post(receipt=receipt, freight=receiving.Freight(D("100.00"), "EUR", "quantity"),
                                   actor=None, bill_reference="DHL-778")
    assert bill.number == f"LC-{bill.pk:06d}"
    assert (bill.base_amount, bill.revalued, bill.issued) == (D("108.00"), D("64.80"), D("43.20"))
    cost.refresh_from_db()
    assert (cost.quantity, cost.unit_cost) == (D(60), D("5.400000"))  # 4.32 + 64.80 / 60
    [line] = LandedCostLine.objects.filter(landed_cost=bill)
    assert (line.share, line.revalued, line.issued) == (D("108.00"), D("64.80"), D("43.20"))


def test_nothing_on_hand_means_everything_was_issued(paper):
    receipt = _received(paper, 10)
    stock_adjust_post(warehouse=warehouse("NE-BOS"), location=location("NE-BOS", "A-01-01"), item=paper,
                      quantity=D(-10), uom="EA", reason="LOST", actor=None)
    bill = landed.landed_cost_post(receipt=receipt, freight=receiving.Freight(D("5.00"), "USD", "value"), actor=None)
    assert (bill.revalued, bill.issued) == (D(0), D("5.00"))


@pytest.mark.parametrize("freight, code", [
    (receiving.Freight(D("0.00"), "EUR", "quantity"), "validation_error"),
    (receiving.Freight(D("-1.00"), "EUR", "quantity"), "validation_error"),
    (receiving.Freight(D("1.00"), "eur", "quantity"), "validation_error"),
    (receiving.Freight(D("1.00"), "EUR", "volume"), "validation_error"),
    (receiving.Freight(D("1.00"), "JPY", "quantity"), "missing_exchange_rate"),
])
def test_bad_freight_bills_write_nothing(paper, freight, code):
    receipt = _received(paper, 10)
    before = ItemCost.objects.get(item=paper, legal_entity=warehouse("NE-BOS").legal_entity).unit_cost
    with pytest.raises(DomainError) as refused:
        landed.landed_cost_post(receipt=receipt, freight=freight, actor=None)
    assert refused.value.code == code
    assert not LandedCost.objects.filter(receipt=receipt).exists()
    assert ItemCost.objects.get(item=paper, legal_entity=warehouse("NE-BOS").legal_entity).unit_cost == before


def test_a_freight_bill_through_the_api(paper, api_as):
    receipt = _received(paper, 10)
    url = reverse("api:receipt-landed-cost", args=[receipt.pk])
    body = {"freight": {"amount": "10.00", "currency": "USD", "method": "quantity"}, "bill_reference": "UPS-9"}
    assert api_as("ne.operator").post(url, body, format="json").status_code == 403
    response = api_as("buyer").post(url, body, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["revalued"], response.json()["issued"]) == ("10.00", "0.00")
    bad = api_as("buyer").post(url, {"freight": {"amount": "10.00", "currency": "USD", "method": "mood"}},
                               format="json")
    assert bad.status_code == 400 and LandedCost.objects.filter(receipt=receipt).count() == 1
