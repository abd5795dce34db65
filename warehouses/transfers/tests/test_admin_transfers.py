"""The transfer admin (issue 13): read-only and scoped like every document admin (``erp.admin_scoping``); the
lines and dispatched parts are shown inline, and nothing is added, changed or deleted from it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from erp import services as platform
from warehouses.models import Region
from warehouses.transfers import services
from warehouses.transfers.models import Transfer, TransferStatus
from warehouses.transfers.tests.helpers import approved, request, stock_at, twin

pytestmark = pytest.mark.django_db


def _url(view: str, *args: Any) -> str:
    return reverse(f"admin:transfers_transfer_{view}", args=args)


@pytest.fixture
def product(demo: Any) -> Any:
    return twin("CLN-0004")


@pytest.fixture
def superuser(user: Any) -> Client:
    client = Client()
    client.force_login(user("admin"))
    return client


@pytest.fixture
def ne_admin(demo: Any) -> Client:
    """A staff Administrator whose scope is region NE."""
    account = get_user_model().objects.create_user("ne.admin", password="x-unused-x", is_staff=True)
    account.groups.add(Group.objects.get(name="Administrator"))
    platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code="NE")])
    client = Client()
    client.force_login(account)
    return client


def test_the_admin_shows_a_transfer_with_its_lines_and_parts_and_never_writes_it(product, superuser):
    stock_at(product, "SE-ATL", 10)
    transfer = services.transfer_dispatch(transfer=approved(product, 4), actor=None)

    changelist = superuser.get(_url("changelist"))
    change = superuser.get(_url("change", transfer.pk))

    assert changelist.status_code == 200 and transfer.number.encode() in changelist.content
    assert change.status_code == 200
    assert b"T-CLN-0004" in change.content and b"2.500000" in change.content  # the line and its carried cost
    assert superuser.get(_url("add")).status_code == 403
    assert superuser.post(_url("add"), {"from_warehouse": "1"}).status_code == 403
    assert superuser.post(_url("change", transfer.pk), {"status": "cancelled"}).status_code == 403
    assert superuser.post(_url("delete", transfer.pk), {"post": "yes"}).status_code == 403
    assert Transfer.objects.get(pk=transfer.pk).status == TransferStatus.DISPATCHED


def test_a_region_administrator_sees_the_transfers_touching_its_region_only(product, ne_admin):
    to_boston = request(product, 1)
    from_boston = request(product, 1, source="NE-BOS", target="SE-ATL")
    elsewhere = request(product, 1, target="EU-RTM")

    listed = ne_admin.get(_url("changelist"))

    assert listed.status_code == 200
    numbers = {transfer.number for transfer in listed.context["cl"].result_list}
    assert {to_boston.number, from_boston.number} <= numbers and elsewhere.number not in numbers
    assert ne_admin.get(_url("change", to_boston.pk)).status_code == 200
    assert ne_admin.get(_url("change", elsewhere.pk)).status_code in (302, 403, 404)
    assert ne_admin.post(_url("change", to_boston.pk), {"status": "cancelled"}).status_code == 403
    assert Transfer.objects.get(pk=to_boston.pk).status == TransferStatus.DRAFT
