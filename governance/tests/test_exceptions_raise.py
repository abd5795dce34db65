"""Raising exceptions: defaults from the catalog, SLA from the policy, deduplication by business key."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from erp.exceptions import ValidationFailed
from governance.models import OperationalException
from governance.services.exceptions import (
    exception_raise,
    exception_raise_command,
    exception_resolve,
    exception_sla_hours,
)
from warehouses.models import Region, Warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _without_demo_exceptions(demo):
    """The demo network raises a few exceptions; these tests count only their own."""
    OperationalException.objects.all().delete()


def _bos() -> Warehouse:
    return Warehouse.objects.select_related("region").get(code="NE-BOS")


def test_raising_fills_region_owner_severity_number_and_sla_deadline_from_the_catalog_and_policy(demo):
    before = timezone.now()
    exc = exception_raise_command(type="shortage", business_key="shortage:NE-BOS:BEV-0001", title="Short BEV-0001",
                                  warehouse=_bos(), reference="SO-000001", detail={"short": "5"})
    assert exc.region == Region.objects.get(code="NE")
    assert exc.owner_role == "planner"
    assert exc.severity == "high"
    assert exc.status == "open"
    assert exc.number == f"EXC-{exc.pk:06d}"
    assert exc.raised_count == 1 and exc.escalation_level == 0
    assert exc.detail == {"short": "5"}
    hours = exception_sla_hours("shortage", warehouse=_bos(), region=exc.region)
    assert hours == Decimal("4")
    assert before + timedelta(hours=4) <= exc.due_at <= timezone.now() + timedelta(hours=4)


def test_raising_the_same_business_key_again_updates_the_open_exception_and_never_lowers_severity(demo):
    first = exception_raise_command(type="damaged_goods", business_key="dmg:R1", title="Damaged pallet",
                                    warehouse=_bos(), severity="critical")
    again = exception_raise_command(type="damaged_goods", business_key="dmg:R1", title="Damaged pallet, 2 cases",
                                    warehouse=_bos(), severity="low", detail={"cases": 2})
    assert again.pk == first.pk
    assert again.raised_count == 2
    assert again.severity == "critical"
    assert again.title == "Damaged pallet, 2 cases"
    assert again.detail == {"cases": 2}
    assert again.last_raised_at >= first.last_raised_at
    assert again.due_at == first.due_at
    assert OperationalException.objects.filter(business_key="dmg:R1").count() == 1


def test_the_same_business_key_under_another_type_is_another_exception(demo):
    a = exception_raise_command(type="shortage", business_key="K-1", title="a", warehouse=_bos())
    b = exception_raise_command(type="anomaly", business_key="K-1", title="b", warehouse=_bos())
    assert a.pk != b.pk


def test_raising_again_after_a_resolve_opens_a_new_exception(demo, user):
    first = exception_raise_command(type="shortage", business_key="short:again", title="Short", warehouse=_bos())
    exception_resolve(exception=first, actor=user("planner"), root_cause="forecast_error", note="")
    second = exception_raise_command(type="shortage", business_key="short:again", title="Short", warehouse=_bos())
    assert second.pk != first.pk
    assert second.number != first.number
    assert second.raised_count == 1


@pytest.mark.parametrize("kwargs, field", [
    ({"type": "nonsense"}, "type"),
    ({"business_key": ""}, "business_key"),
    ({"business_key": "x" * 201}, "business_key"),
    ({"title": "  "}, "title"),
    ({"severity": "urgent"}, "severity"),
    ({"detail": ["not", "an", "object"]}, "detail"),
])
def test_raising_with_bad_input_is_refused_and_writes_nothing(demo, kwargs, field):
    base = {"type": "shortage", "business_key": "bad:1", "title": "t", "warehouse": _bos()}
    with pytest.raises(ValidationFailed) as refused:
        exception_raise_command(**{**base, **kwargs})
    assert field in refused.value.detail
    assert OperationalException.objects.count() == 0


def test_a_warehouse_outside_the_given_region_is_refused(demo):
    with pytest.raises(ValidationFailed):
        exception_raise_command(type="shortage", business_key="x", title="t", warehouse=_bos(),
                                region=Region.objects.get(code="EU"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_raises_of_one_business_key_from_eight_threads_leave_one_exception_raised_eight_times(demo):
    bos = _bos()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def raise_it() -> None:
        try:
            barrier.wait()
            exception_raise_command(type="shortage", business_key="race:BEV-0002", title="Short BEV-0002",
                                    warehouse=bos)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=raise_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = OperationalException.objects.filter(business_key="race:BEV-0002")
    assert rows.count() == 1
    assert rows.get().raised_count == 8


def test_exception_raise_joins_the_callers_command_and_rolls_back_with_it(demo):
    from erp.transactions import run_command

    class Boom(Exception):
        pass

    def caller() -> None:
        exception_raise(type="late_receipt", business_key="joined:1", title="Late", warehouse=_bos())
        assert OperationalException.objects.filter(business_key="joined:1").exists()
        raise Boom()

    with pytest.raises(Boom):
        run_command(caller)
    assert not OperationalException.objects.filter(business_key="joined:1").exists()


def test_an_approved_region_deviation_of_exceptions_sla_localizes_the_deadline(demo, user):
    from zoneinfo import ZoneInfo

    from governance.models import Policy
    from governance.services.deviations import deviation_approve, deviation_request

    rtm = Warehouse.objects.select_related("region").get(code="EU-RTM")
    local = timezone.now().astimezone(ZoneInfo(rtm.timezone)).date()  # deviations start on a site's local date
    value = {**Policy.objects.get(key="exceptions.sla").standard_value, "damaged_goods": "2"}
    deviation = deviation_request(policy_key="exceptions.sla", scope_type="region", scope_code="EU", value=value,
                                  rationale="EU damage claims must be filed within hours", effective_from=local,
                                  effective_to=local + timedelta(days=30), actor=user("eu.operator"))
    deviation_approve(deviation=deviation, actor=user("owner"))
    at_rtm = exception_raise_command(type="damaged_goods", business_key="sla:rtm", title="Damaged", warehouse=rtm)
    at_bos = exception_raise_command(type="damaged_goods", business_key="sla:bos", title="Damaged", warehouse=_bos())
    assert at_rtm.due_at - at_rtm.first_raised_at == timedelta(hours=2)
    assert at_bos.due_at - at_bos.first_raised_at == timedelta(hours=8)
