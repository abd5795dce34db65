"""Scope-matrix coverage of ``audit-events/`` (collected by tests/test_scope_matrix.py).

Each check changes NE-BOS and EU-RTM through services (events inside and outside each operator's
scope), an item (enterprise master data: everyone's) and a user (restricted: enterprise readers
only), then asserts what the operator's list and details show.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse

from governance.audit import restricted_tables
from governance.models import AuditEvent
from inventory import services as inventory_services
from inventory.models import Item
from warehouses import services as warehouse_services
from warehouses.models import Warehouse

OWN_WAREHOUSES = {"ne.operator": {"NE-BOS", "NE-NYC"}, "eu.operator": {"EU-DUS", "EU-RTM"}}


def _make_events() -> dict[str, AuditEvent]:
    admin = get_user_model().objects.get(username="admin")
    made = {}
    for code in ("NE-BOS", "EU-RTM"):
        warehouse = warehouse_services.warehouse_update(warehouse=Warehouse.objects.get(code=code),
                                                        name=f"{code} audited", actor=admin)
        made[code] = AuditEvent.objects.filter(table_name="warehouses_warehouse", row_id=str(warehouse.pk)).latest("id")
    item = inventory_services.item_update(item=Item.objects.get(sku="BEV-0002"), name="Audited item", actor=admin)
    made["item"] = AuditEvent.objects.filter(table_name="inventory_item", row_id=str(item.pk)).latest("id")
    admin.last_name = "Audited"
    admin.save()
    made["user"] = AuditEvent.objects.filter(table_name="auth_user", row_id=str(admin.pk)).latest("id")
    return made


def _expected_count(username: str) -> int:
    """The rule, written out: own warehouses' rows, own regions' rows, enterprise master data."""
    warehouses = Warehouse.objects.filter(code__in=OWN_WAREHOUSES[username])
    visible = (
        Q(warehouse_id__in=warehouses.values("pk"))
        | Q(warehouse_id__isnull=True, region_id__in=warehouses.values("region_id"))
        | (Q(warehouse_id__isnull=True, region_id__isnull=True) & ~Q(table_name__in=restricted_tables()))
    )
    return AuditEvent.objects.filter(visible).count()


class AuditListCheck:
    def check(self, name: str, client: Any, username: str) -> None:
        made = _make_events()
        inside, outside = ("NE-BOS", "EU-RTM") if username == "ne.operator" else ("EU-RTM", "NE-BOS")
        url = reverse(f"api:{name}")

        assert client.get(url).json()["count"] == _expected_count(username)
        ids = {row["id"] for row in client.get(url, {"since": made["NE-BOS"].occurred_at.isoformat(),
                                                     "page_size": 500}).json()["results"]}
        assert made[inside].pk in ids and made["item"].pk in ids
        assert made[outside].pk not in ids and made["user"].pk not in ids
        for aimed in ({"warehouse": outside}, {"table": "auth_user"},
                      {"table": "warehouses_warehouse", "row_id": made[outside].row_id}):
            assert client.get(url, aimed).json()["count"] == 0, (username, aimed)


class AuditDetailCheck:
    def check(self, name: str, client: Any, username: str) -> None:
        made = _make_events()
        inside, outside = ("NE-BOS", "EU-RTM") if username == "ne.operator" else ("EU-RTM", "NE-BOS")
        for key in (inside, "item"):
            response = client.get(reverse(f"api:{name}", args=[made[key].pk]))
            assert response.status_code == 200, (username, key)
            assert response.json()["id"] == made[key].pk
        for key in (outside, "user"):
            response = client.get(reverse(f"api:{name}", args=[made[key].pk]))
            assert response.status_code == 404, (username, key)
            assert response.json()["code"] == "not_found"
        missing = client.get(reverse(f"api:{name}", args=[999999999]))
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"


COVERAGE = {
    "audit-event-list": AuditListCheck(),
    "audit-event-detail": AuditDetailCheck(),
}
