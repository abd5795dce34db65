"""The stock admins: read-only, scoped like the API, rendering in a constant number of queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from erp import services as platform
from inventory import services
from inventory.models import (
    ItemCost,
    ItemWarehouseSummary,
    Lot,
    ReasonCode,
    StatusTransition,
    StockBalance,
    StockMove,
    StockStatus,
)
from inventory.tests.factories import item, location, warehouse
from warehouses.models import Region

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock")]

STOCK_MODELS = [StockStatus, ReasonCode, StatusTransition, Lot, StockMove, StockBalance, ItemWarehouseSummary, ItemCost]


def _url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:inventory_{model._meta.model_name}_{view}", args=args)


def _receive_at(site: str) -> None:
    services.stock_receive(warehouse=warehouse(site), location=location(site, "A-01-01"), item=item("DRY-0001"),
                           quantity=Decimal(6), uom="EA", unit_cost=Decimal(2), reference=f"admin {site}",
                           lot_number=f"LOT-{site}", actor=None)


@pytest.fixture
def ne_admin_client(demo: Any) -> Client:
    """A staff Administrator scoped to region NE, with the stock view permissions (until erp/roles.py has them)."""
    user = get_user_model().objects.create_user("ne.stock.admin", password="x-unused-x", is_staff=True)
    user.groups.add(Group.objects.get(name="Administrator"))
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="inventory", codename__in=[f"view_{m._meta.model_name}" for m in STOCK_MODELS]))
    platform.scope_grant(user=user, actor=None, regions=[Region.objects.get(code="NE")])
    client = Client()
    client.force_login(user)
    return client


def test_every_stock_admin_renders_its_changelist_and_change_page_read_only_for_the_superuser(user):
    _receive_at("NE-BOS")
    client = Client()
    client.force_login(user("admin"))
    for model in STOCK_MODELS:
        model_admin = admin.site._registry[model]
        changelist = client.get(_url(model, "changelist"))
        assert changelist.status_code == 200, model
        first = model.objects.order_by("pk").first()
        change = client.get(_url(model, "change", first.pk))
        assert change.status_code == 200, model
        request = changelist.wsgi_request
        assert not model_admin.has_add_permission(request) and not model_admin.has_change_permission(request, first)
        assert not model_admin.has_delete_permission(request, first)


def test_a_northeast_administrator_sees_no_stock_of_another_region(ne_admin_client):
    _receive_at("NE-BOS")
    _receive_at("EU-RTM")
    for model in (StockMove, StockBalance, ItemWarehouseSummary):
        response = ne_admin_client.get(_url(model, "changelist"))
        assert response.status_code == 200, model
        rows = response.context["cl"].result_list
        assert rows and {row.warehouse.code for row in rows} <= {"NE-BOS", "NE-NYC"}, model
        for foreign in (b"EU-RTM", b"LOT-EU-RTM", b"EU01"):  # not even in the sidebar filters
            assert foreign not in response.content, (model, foreign)
        outside = model.objects.filter(warehouse__code="EU-RTM").first()
        assert ne_admin_client.get(_url(model, "change", outside.pk)).status_code in (302, 404)
    costs = ne_admin_client.get(_url(ItemCost, "changelist")).context["cl"].result_list
    assert costs and {cost.legal_entity.code for cost in costs} == {"US01"}
