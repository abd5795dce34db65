"""The resolver: precedence, inclusive local-date boundaries, time zones, one query, never stale."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erp.exceptions import NotFound
from governance.models import Policy, PolicyDeviation
from governance.registry import declared_policies
from governance.rules import source_label
from governance.selectors import local_date, policy_value, policy_values_for_site
from warehouses.models import Region, Warehouse

pytestmark = pytest.mark.django_db

CUTOFF = "fulfillment.shipping_cutoff"
_numbers = iter(range(900000, 10**7))


def approved(*, site, value, start, end, decider, requester):
    """An approved deviation written directly (the resolver reads rows, whatever wrote them)."""
    warehouse = site if isinstance(site, Warehouse) else None
    region = site if isinstance(site, Region) else None
    return PolicyDeviation.objects.create(
        number=f"DEV-T{next(_numbers)}", policy=Policy.objects.get(key=CUTOFF),
        scope_type="warehouse" if warehouse else "region", warehouse=warehouse, region=region, value=value,
        rationale="test deviation", effective_from=start, effective_to=end, status="approved",
        requested_by=requester, decided_by=decider,
    )


@pytest.fixture
def people(user):
    return {"decider": user("owner"), "requester": user("eu.operator")}


@pytest.fixture
def rtm():
    return Warehouse.objects.select_related("region").get(code="EU-RTM")


def test_the_standard_applies_without_deviations(rtm):
    resolved = policy_value(CUTOFF, warehouse=rtm)
    assert (resolved.value, resolved.source, resolved.deviation) == ("15:00", "enterprise", None)


def test_a_warehouse_deviation_beats_its_region_which_beats_the_standard(rtm, people):
    day = date(2031, 5, 10)
    noon = datetime(2031, 5, 10, 10, tzinfo=UTC)
    region_dev = approved(site=rtm.region, value="16:00", start=day, end=day, **people)
    assert policy_value(CUTOFF, warehouse=rtm, at=noon).source == "region:EU"
    assert policy_value(CUTOFF, warehouse=rtm, at=noon).deviation.pk == region_dev.pk
    approved(site=rtm, value="17:30", start=day, end=day, **people)
    assert policy_value(CUTOFF, warehouse=rtm, at=noon).value == "17:30"
    assert policy_value(CUTOFF, warehouse=rtm, at=noon).source == "warehouse:EU-RTM"
    assert policy_value(CUTOFF, region=rtm.region, at=noon).value == "16:00"
    assert policy_value(CUTOFF, warehouse=Warehouse.objects.get(code="NE-BOS"), at=noon).source == "enterprise"


def test_dates_are_inclusive_in_the_warehouses_local_calendar(rtm, people):
    approved(site=rtm, value="17:30", start=date(2031, 3, 1), end=date(2031, 3, 1), **people)
    amsterdam = ZoneInfo("Europe/Amsterdam")
    first_minute = datetime(2031, 3, 1, 0, 0, tzinfo=amsterdam)  # 2031-02-28 23:00 UTC
    last_minute = datetime(2031, 3, 1, 23, 59, 59, tzinfo=amsterdam)
    assert policy_value(CUTOFF, warehouse=rtm, at=first_minute).value == "17:30"
    assert policy_value(CUTOFF, warehouse=rtm, at=last_minute).value == "17:30"
    assert policy_value(CUTOFF, warehouse=rtm, at=first_minute - timedelta(seconds=1)).value == "15:00"
    assert policy_value(CUTOFF, warehouse=rtm, at=last_minute + timedelta(seconds=1)).value == "15:00"


def test_a_region_only_lookup_uses_the_utc_date(rtm, people):
    approved(site=rtm.region, value="16:00", start=date(2031, 3, 1), end=date(2031, 3, 1), **people)
    assert policy_value(CUTOFF, region=rtm.region, at=datetime(2031, 2, 28, 23, 30, tzinfo=UTC)).value == "15:00"
    # ... while the warehouse in Amsterdam is already on 1 March and sees its region's deviation.
    assert policy_value(CUTOFF, warehouse=rtm, at=datetime(2031, 2, 28, 23, 30, tzinfo=UTC)).value == "16:00"


def test_requested_rejected_and_withdrawn_deviations_never_apply(rtm, people):
    for status in ("requested", "withdrawn"):
        PolicyDeviation.objects.create(
            number=f"DEV-T{next(_numbers)}", policy=Policy.objects.get(key=CUTOFF), scope_type="warehouse",
            warehouse=rtm, value="18:00", rationale="x" * 10, effective_from=date(2031, 1, 1),
            effective_to=date(2031, 12, 31), status=status, requested_by=people["requester"])
    assert policy_value(CUTOFF, warehouse=rtm, at=datetime(2031, 6, 1, tzinfo=UTC)).source == "enterprise"


def test_the_resolver_costs_one_query(rtm, people, django_assert_num_queries):
    approved(site=rtm, value="17:30", start=date(2031, 1, 1), end=date(2031, 1, 9), **people)
    with django_assert_num_queries(1):
        policy_value(CUTOFF, warehouse=rtm, at=datetime(2031, 1, 5, tzinfo=UTC))
    with django_assert_num_queries(1):
        values = policy_values_for_site(warehouse=rtm, at=datetime(2031, 1, 5, tzinfo=UTC))
    assert values[CUTOFF].value == "17:30" and set(values) == set(declared_policies())


def test_an_unknown_key_is_a_404_unknown_policy():
    with pytest.raises(NotFound) as raised:
        policy_value("no.such_policy")
    assert raised.value.code == "unknown_policy" and raised.value.status == 404


def test_a_naive_instant_is_refused(rtm):
    with pytest.raises(ValueError):
        policy_value(CUTOFF, warehouse=rtm, at=datetime(2031, 1, 1))


# --- property: the resolver equals a plain reference implementation ----------------------------------

BASE = date(2031, 3, 1)
ranges = st.tuples(st.integers(0, 20), st.integers(0, 6)).map(
    lambda t: (BASE + timedelta(days=t[0]), BASE + timedelta(days=t[0] + t[1])))
instants = st.tuples(st.integers(-1, 28), st.sampled_from([0, 1, 4, 5, 6, 12, 21, 22, 23]),
                     st.sampled_from([0, 1, 59])).map(
    lambda t: datetime.combine(BASE + timedelta(days=t[0]), datetime.min.time(), tzinfo=UTC)
    + timedelta(hours=t[1], minutes=t[2]))


def reference(rows, warehouse, region, at):
    """Straight from the rule: warehouse beats region beats standard, inclusive local dates."""
    day = at.astimezone(ZoneInfo(warehouse.timezone)).date() if warehouse else at.astimezone(UTC).date()
    for site, kind in ((warehouse, "warehouse"), (region, "region")):
        if site is None:
            continue
        for row in rows:
            if row[0] == kind and row[1] == site.pk and row[2] <= day <= row[3]:
                return row[4], source_label(kind, site.code)
    return "15:00", "enterprise"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wanted=st.lists(st.tuples(st.sampled_from(["EU-RTM", "NE-BOS", "EU", "NE"]), ranges,
                                 st.sampled_from(["16:00", "17:30", "18:45"])), max_size=8),
       at=instants)
def test_the_resolver_agrees_with_a_reference_implementation(wanted, at, people):
    warehouses = {w.code: w for w in Warehouse.objects.select_related("region").filter(code__in=["EU-RTM", "NE-BOS"])}
    regions = {r.code: r for r in Region.objects.filter(code__in=["EU", "NE"])}
    rows = []
    with transaction.atomic():
        sid = transaction.savepoint()
        for code, (start, end), value in wanted:
            site = warehouses.get(code) or regions[code]
            try:
                with transaction.atomic():
                    approved(site=site, value=value, start=start, end=end, **people)
            except IntegrityError:  # overlaps an approved one: the exclusion constraint refuses it
                continue
            rows.append(("warehouse" if code in warehouses else "region", site.pk, start, end, value))
        for warehouse in warehouses.values():
            resolved = policy_value(CUTOFF, warehouse=warehouse, at=at)
            assert (resolved.value, resolved.source) == reference(rows, warehouse, warehouse.region, at)
        for region in regions.values():
            resolved = policy_value(CUTOFF, region=region, at=at)
            assert (resolved.value, resolved.source) == reference(rows, None, region, at)
        transaction.savepoint_rollback(sid)


def _utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("instant", "boston_date", "rotterdam_date"), [
    ("2026-03-08T04:30", date(2026, 3, 7), date(2026, 3, 8)),   # 23:30 EST in New York, 05:30 CET in Rotterdam
    ("2026-03-09T03:30", date(2026, 3, 8), date(2026, 3, 9)),   # 23:30 EDT: New York is on summer time since 8 March
    ("2026-03-09T04:30", date(2026, 3, 9), date(2026, 3, 9)),   # 00:30 EDT (it would still be 8 March at UTC-5)
    ("2026-03-29T22:30", date(2026, 3, 29), date(2026, 3, 30)),  # 00:30 CEST: Rotterdam on summer time since 29 March
])
def test_local_dates_are_pinned_to_concrete_instants_across_the_dst_changes(instant, boston_date, rotterdam_date):
    at = _utc(instant)
    assert local_date(at, Warehouse(code="X", timezone="America/New_York")) == boston_date
    assert local_date(at, Warehouse(code="Y", timezone="Europe/Amsterdam")) == rotterdam_date
    assert local_date(at) == at.date()  # without a warehouse: the UTC calendar


def test_a_deviation_starting_on_8_march_applies_in_rotterdam_hours_before_boston(people):
    boston, rotterdam = Warehouse.objects.get(code="NE-BOS"), Warehouse.objects.get(code="EU-RTM")
    for site in (boston, rotterdam):
        approved(site=site, value="17:45", start=date(2026, 3, 8), end=date(2026, 3, 8), **people)

    at = _utc("2026-03-08T04:30")  # 23:30 on 7 March in Boston, 05:30 on 8 March in Rotterdam
    assert policy_value(CUTOFF, warehouse=boston, at=at).source == "enterprise"
    assert policy_value(CUTOFF, warehouse=rotterdam, at=at).source == "warehouse:EU-RTM"
    assert policy_value(CUTOFF, warehouse=boston, at=_utc("2026-03-08T05:00")).source == "warehouse:NE-BOS"


def test_a_deviation_ending_on_the_us_dst_change_day_stops_at_local_midnight_of_summer_time(people):
    boston = Warehouse.objects.get(code="NE-BOS")
    approved(site=boston, value="17:45", start=date(2026, 3, 1), end=date(2026, 3, 8), **people)

    assert policy_value(CUTOFF, warehouse=boston, at=_utc("2026-03-09T03:59")).value == "17:45"  # 23:59 EDT, 8 March
    assert policy_value(CUTOFF, warehouse=boston, at=_utc("2026-03-09T04:00")).source == "enterprise"  # 00:00 EDT


def test_values_at_several_warehouses_in_one_query_agree_with_the_resolver(rtm, people, django_assert_num_queries):
    """The hot path of confirming an order resolves several policies at several warehouses at once: it must give
    what ``policy_value`` gives at each, deviations of the warehouse and of its region included, on each
    warehouse's own local date (here the region's deviation ends the day before it starts at NE-BOS's UTC-5)."""
    from governance.selectors import policy_values_at_warehouses

    day = date(2031, 5, 10)
    at = datetime(2031, 5, 10, 2, tzinfo=UTC)  # 10 May in Rotterdam, still 9 May in Boston
    approved(site=rtm.region, value="16:00", start=day, end=day, **people)
    boston = Warehouse.objects.select_related("region").get(code="NE-BOS")
    approved(site=boston, value="11:00", start=day - timedelta(days=1), end=day - timedelta(days=1), **people)
    warehouses = list(Warehouse.objects.select_related("region").order_by("code"))
    keys = [CUTOFF, "fulfillment.allocation_sequence", "fulfillment.cross_region_allowed"]
    with django_assert_num_queries(1):
        values = policy_values_at_warehouses(keys, warehouses, at)
    for warehouse in warehouses:
        assert values[warehouse.pk] == {key: policy_value(key, warehouse=warehouse, at=at).value for key in keys}
    assert values[rtm.pk][CUTOFF] == "16:00" and values[boston.pk][CUTOFF] == "11:00"
    with pytest.raises(NotFound):
        policy_values_at_warehouses(["no.such_policy"], warehouses, at)
