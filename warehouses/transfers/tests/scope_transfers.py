"""Scope-matrix coverage of the transfer routes (collected by tests/test_scope_matrix.py).

Each check makes four transfers through the services: SE-ATL -> NE-BOS (ne.operator sees it at its target),
NE-NYC -> NE-BOS (both ends are ne.operator's), EU-RTM -> EU-DUS (eu.operator's) and SE-MIA -> SE-ATL (nobody's of
the two). A transfer is seen at either of its warehouses; the source dispatches and the target receives, so an
operator who sees a transfer only at its target gets 404 dispatching it, and nothing moves.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import StockMove
from warehouses.transfers import services
from warehouses.transfers.models import Transfer
from warehouses.transfers.tests.helpers import D, request, stock_at, twin

PAIRS = {"inbound": ("SE-ATL", "NE-BOS"), "local": ("NE-NYC", "NE-BOS"), "eu": ("EU-RTM", "EU-DUS"),
         "elsewhere": ("SE-MIA", "SE-ATL")}
SEEN = {"ne.operator": {"inbound", "local"}, "eu.operator": {"eu"}}
SENDS = {"ne.operator": {"local"}, "eu.operator": {"eu"}}  # the source is in their scope
RECEIVES = {"ne.operator": {"inbound", "local"}, "eu.operator": {"eu"}}


def transfers_everywhere(stage: str = "draft") -> dict[str, Transfer]:
    """One transfer of 2 EA of T-CLN-0009 per pair, taken to ``stage`` (draft, approved or dispatched)."""
    product = twin("CLN-0009")
    made = {}
    for key, (source, target) in PAIRS.items():
        stock_at(product, source, 2)
        transfer = request(product, 2, source=source, target=target)
        if stage in ("approved", "dispatched"):
            transfer = services.transfer_submit(transfer=transfer, actor=None)
        if stage == "dispatched":
            transfer = services.transfer_dispatch(transfer=transfer, actor=None)
        made[key] = transfer
    return made


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"] == code


def _state(made: dict[str, Transfer]) -> tuple[Any, ...]:
    return (sorted(Transfer.objects.filter(pk__in=[t.pk for t in made.values()]).values_list("number", "status")),
            StockMove.objects.filter(reference_type="transfer").count())


class TransferListCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        made = transfers_everywhere()
        body = client.get(reverse(f"api:{name}"), {"page_size": 500}).json()
        assert body["count"] == len(body["results"])
        seen = {row["number"] for row in body["results"]}
        assert seen & {t.number for t in made.values()} == {made[key].number for key in SEEN[username]}
        outside = made["elsewhere"]
        for params in ({"warehouse": "SE-MIA"}, {"from_warehouse": "SE-MIA"},
                       {"to_warehouse": outside.to_warehouse.code, "from_warehouse": "SE-MIA"}):
            aimed = client.get(reverse(f"api:{name}"), params).json()
            assert aimed["count"] == 0 and aimed["results"] == [], (username, params)


class TransferDetailCheck:
    def check(self, name: str, client: APIClient, username: str) -> None:
        for key, transfer in transfers_everywhere().items():
            response = client.get(reverse(f"api:{name}", args=[transfer.pk]))
            if key in SEEN[username]:
                assert response.status_code == 200 and response.json()["number"] == transfer.number
            else:
                _assert_error(response, 404, "not_found")
        _assert_error(client.get(reverse(f"api:{name}", args=[999999999])), 404, "not_found")


class TransferActionCheck:
    """An action on a transfer the caller may not act on is 404 and changes nothing; on one they may, it works."""

    def __init__(self, stage: str, allowed: dict[str, set[str]], body: dict[str, Any], after: str) -> None:
        self.stage, self.allowed, self.body, self.after = stage, allowed, body, after

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = transfers_everywhere(self.stage)
        for key, transfer in made.items():
            if key in self.allowed[username]:
                continue
            before = _state(made)
            _assert_error(client.post(reverse(f"api:{name}", args=[transfer.pk]), self.body, format="json"), 404,
                          "not_found")
            assert _state(made) == before, (username, key)
        for key in sorted(self.allowed[username]):
            response = client.post(reverse(f"api:{name}", args=[made[key].pk]), self.body, format="json")
            assert response.status_code == 200, response.content[:300]
            assert response.json()["status"] == self.after, (username, key, response.json()["status"])


class CycleTimeCheck:
    """The transfer cycle time counts the transfers received at the caller's warehouses: each pair's transfer is
    received in March 2001 (where the demo has none); a region or warehouse outside the scope is 404."""

    OUTSIDE = {"ne.operator": [{"region": "EU"}, {"region": "SE"}, {"warehouse": "EU-DUS"}, {"warehouse": "SE-ATL"}],
               "eu.operator": [{"region": "NE"}, {"warehouse": "NE-BOS"}, {"warehouse": "SE-ATL"}]}
    MARCH = {"from": "2001-03-01", "to": "2001-03-31"}

    def check(self, name: str, client: APIClient, username: str) -> None:
        made = transfers_everywhere("dispatched")
        received_at = dt.datetime(2001, 3, 10, 15, 0, tzinfo=dt.UTC)
        for transfer in made.values():
            services.transfer_receive(transfer=transfer, actor=None,
                                      lines=[services.ReceiveSpec(line_no=1, quantity=D(2))])
            Transfer.objects.filter(pk=transfer.pk).update(
                received_at=received_at, dispatched_at=received_at - dt.timedelta(hours=30),
                created_at=received_at - dt.timedelta(hours=50))
        response = client.get(reverse(f"api:{name}"), self.MARCH)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        mine = {PAIRS[key][1] for key in RECEIVES[username]}
        assert body["transfers"] == len(RECEIVES[username]), (username, body)
        assert {row["warehouse"] for row in body["warehouses"]} == mine
        for params in self.OUTSIDE[username]:
            aimed = client.get(reverse(f"api:{name}"), {**self.MARCH, **params})
            assert aimed.status_code == 404, (username, params, aimed.content[:300])
            assert aimed.json()["code"] == "not_found"


COVERAGE = {
    "transfer-list": TransferListCheck(),
    "transfer-detail": TransferDetailCheck(),
    "transfer-submit": TransferActionCheck("draft", SEEN, {}, "approved"),
    "transfer-cancel": TransferActionCheck("approved", SEEN, {"reason": "not needed"}, "cancelled"),
    "transfer-dispatch": TransferActionCheck("approved", SENDS, {}, "dispatched"),
    "transfer-receive": TransferActionCheck("dispatched", RECEIVES,
                                            {"lines": [{"line_no": 1, "quantity": str(D(2))}]}, "received"),
    "transfer-write-off": TransferActionCheck("dispatched", SEEN, {"reason": "lost by the carrier", "lines": [
        {"line_no": 1, "quantity": str(D(1))}]}, "dispatched"),
    "kpi-transfer-cycle-time": CycleTimeCheck(),
}

WRITES_TESTED_ELSEWHERE = {
    "transfer-list": "a create needs one of the two warehouses in scope (404 otherwise): test_transfers_api.py",
    "transfer-submit": "submitting is scoped like reading (TransferActionCheck here)",
    "transfer-cancel": "cancelling is scoped like reading (TransferActionCheck here)",
    "transfer-dispatch": "only the source's users dispatch, others get 404 (TransferActionCheck here)",
    "transfer-receive": "only the target's users receive, others get 404 (TransferActionCheck here)",
    "transfer-write-off": "asking for a write-off is scoped like reading (TransferActionCheck here)",
}
