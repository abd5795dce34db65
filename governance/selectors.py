"""Governance reads shared by every domain, the API, screens and reports.

The resolver answers "which value of this policy applies at this site at this instant, and why".
It reads the database every time (no cache survives a transaction), so a value is never stale
after an approval commits; it costs one query.

Dates: a deviation's ``effective_from``/``effective_to`` are inclusive local dates of the site. For a
warehouse that is the date on the warehouse's own clock (its ``timezone``). A region spans time zones
and has none of its own, so a region-only lookup (no warehouse given) and the nightly expiry use the
UTC date; a lookup for a warehouse uses the warehouse's local date for its region's deviations too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import FilteredRelation, Q, QuerySet
from django.utils import timezone

from erp.exceptions import ValidationFailed
from erp.scoping import scope_queryset
from governance.exceptions import UnknownPolicy
from governance.models import DeviationStatus, Policy, PolicyDeviation, ScopeType
from governance.rules import SOURCE_ENTERPRISE, source_label
from warehouses.models import Region, Warehouse

_DEVIATION_COLUMNS = (
    "id", "number", "policy_id", "scope_type", "region_id", "warehouse_id", "value", "rationale", "effective_from",
    "effective_to", "status", "requested_by_id", "decided_by_id", "decided_at", "decision_note",
    "approval_request_id", "review_notified_at", "created_at", "updated_at",
)


@dataclass(frozen=True)
class Resolved:
    """A policy's value at a site: the value, where it comes from, and the deviation that supplies it."""

    value: Any
    source: str  # "warehouse:EU-RTM", "region:EU" or "enterprise"
    deviation: PolicyDeviation | None = None


def local_date(at: datetime, warehouse: Warehouse | None = None) -> date:
    """The calendar date of ``at`` on the warehouse's clock, or in UTC without a warehouse."""
    if timezone.is_naive(at):
        raise ValueError("policy lookups need an aware datetime")
    zone = ZoneInfo(warehouse.timezone) if warehouse is not None else UTC
    return at.astimezone(zone).date()


def _site(warehouse: Warehouse | None, region: Region | None) -> tuple[int | None, str | None]:
    """The region id and (when known without a query) region code the lookup covers."""
    if warehouse is None:
        return (region.pk, region.code) if region is not None else (None, None)
    if region is not None and region.pk != warehouse.region_id:
        raise ValidationFailed(detail={"region": [f"{warehouse.code} is not in region {region.code}."]})
    return warehouse.region_id, region.code if region is not None else None


def _with_candidates(queryset: QuerySet[Policy], warehouse: Warehouse | None, region_id: int | None,
                     day: date) -> tuple[QuerySet[Policy], list[str]]:
    """Join each policy to its approved deviation in effect on ``day`` at the warehouse and at the region.

    The exclusion constraint allows at most one approved deviation per policy, site and date, so each
    join adds at most one row: the query returns one row per policy.
    """
    in_effect = {"deviations__status": DeviationStatus.APPROVED, "deviations__effective_from__lte": day,
                 "deviations__effective_to__gte": day}
    aliases: list[str] = []
    if warehouse is not None:
        queryset = queryset.annotate(wdev=FilteredRelation(
            "deviations", condition=Q(deviations__warehouse_id=warehouse.pk, **in_effect)))
        aliases.append("wdev")
    if region_id is not None:
        queryset = queryset.annotate(rdev=FilteredRelation(
            "deviations", condition=Q(deviations__region_id=region_id, **in_effect)))
        aliases.append("rdev")
    return queryset, aliases


def _deviation_from_row(row: dict[str, Any], alias: str) -> PolicyDeviation | None:
    if row[f"{alias}__id"] is None:
        return None
    deviation = PolicyDeviation(**{column: row[f"{alias}__{column}"] for column in _DEVIATION_COLUMNS})
    deviation._state.adding = False
    deviation._state.db = "default"
    return deviation


def _resolve_row(row: dict[str, Any], warehouse: Warehouse | None, region_code: str | None) -> Resolved:
    wdev = _deviation_from_row(row, "wdev") if warehouse is not None else None
    if wdev is not None and warehouse is not None:
        return Resolved(wdev.value, source_label(ScopeType.WAREHOUSE, warehouse.code), wdev)
    rdev = _deviation_from_row(row, "rdev") if "rdev__id" in row else None
    if rdev is not None:
        code = region_code or warehouse.region.code  # type: ignore[union-attr]  # rdev columns come with one of them
        return Resolved(rdev.value, source_label(ScopeType.REGION, code), rdev)
    return Resolved(row["standard_value"], SOURCE_ENTERPRISE, None)


def _rows(queryset: QuerySet[Policy], warehouse: Warehouse | None, region: Region | None,
          at: datetime | None) -> tuple[list[dict[str, Any]], str | None]:
    region_id, region_code = _site(warehouse, region)
    day = local_date(at or timezone.now(), warehouse)
    queryset, aliases = _with_candidates(queryset, warehouse, region_id, day)
    columns = ["key", "standard_value"] + [f"{alias}__{column}" for alias in aliases for column in _DEVIATION_COLUMNS]
    return list(queryset.values(*columns)), region_code


def policy_value(key: str, *, warehouse: Warehouse | None = None, region: Region | None = None,
                 at: datetime | None = None) -> Resolved:
    """The value of policy ``key`` at a site at instant ``at`` (default now), in one query.

    An approved warehouse deviation in effect on the warehouse's local date beats an approved
    deviation of its region, which beats the enterprise standard. With only ``region``, the region's
    deviation in effect on the UTC date applies. A retired or unknown key raises ``UnknownPolicy``.
    (Pass the warehouse with its region loaded: naming a region deviation's source reads its code.)
    """
    rows, region_code = _rows(Policy.objects.filter(key=key, retired=False), warehouse, region, at)
    if not rows:
        raise UnknownPolicy(detail={"key": key})
    return _resolve_row(rows[0], warehouse, region_code)


def policy_values_for_site(*, warehouse: Warehouse | None = None, region: Region | None = None,
                           at: datetime | None = None) -> dict[str, Resolved]:
    """Every current policy's value at a site, by key, in one query."""
    rows, region_code = _rows(Policy.objects.filter(retired=False).order_by("key"), warehouse, region, at)
    return {row["key"]: _resolve_row(row, warehouse, region_code) for row in rows}


def policy_values_at_warehouses(keys: list[str], warehouses: list[Warehouse],
                                at: datetime | None = None) -> dict[int, dict[str, Any]]:
    """The values of policies ``keys`` at each of ``warehouses`` at instant ``at``, in one query:
    ``{warehouse id: {key: value}}``. The same resolution as ``policy_value`` (an approved warehouse
    deviation in effect on the warehouse's local date, else its region's, else the standard), values only:
    the hot path of confirming an order, which needs a few values at several warehouses and no sources.
    An unknown or retired key raises ``UnknownPolicy``."""
    if not warehouses:
        return {}
    at = at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT w.id, p.key, CASE WHEN wd.id IS NOT NULL THEN wd.value WHEN rd.id IS NOT NULL THEN rd.value "
            "ELSE p.standard_value END "
            "FROM governance_policy p "
            "CROSS JOIN unnest(%s::bigint[], %s::bigint[], %s::date[]) AS w(id, region_id, day) "
            "LEFT JOIN governance_policydeviation wd ON wd.policy_id = p.id AND wd.warehouse_id = w.id "
            "  AND wd.status = %s AND wd.effective_from <= w.day AND wd.effective_to >= w.day "
            "LEFT JOIN governance_policydeviation rd ON rd.policy_id = p.id AND rd.region_id = w.region_id "
            "  AND rd.status = %s AND rd.effective_from <= w.day AND rd.effective_to >= w.day "
            "WHERE p.key = ANY(%s) AND NOT p.retired",
            [[w.pk for w in warehouses], [w.region_id for w in warehouses],
             [local_date(at, w) for w in warehouses], DeviationStatus.APPROVED, DeviationStatus.APPROVED,
             list(keys)],
        )
        rows = cursor.fetchall()
    values: dict[int, dict[str, Any]] = {w.pk: {} for w in warehouses}
    for warehouse_id, key, value in rows:
        # Django reads jsonb as text (its JSONField decodes it): so do we.
        values[warehouse_id][key] = json.loads(value) if isinstance(value, str) else value
    missing = set(keys) - {key for _, key, _ in rows}
    if missing:
        raise UnknownPolicy(detail={"key": sorted(missing)[0]})
    return values


# --- Catalog and deviations, scoped ------------------------------------------------------------------


def policies_for(user: Any) -> QuerySet[Policy]:
    """The policy catalog (enterprise-wide: every authorised user reads all of it)."""
    return scope_queryset(Policy.objects.filter(retired=False).select_related("owner_user", "owner_group"), user)


def deviations_for(user: Any) -> QuerySet[PolicyDeviation]:
    return scope_queryset(
        PolicyDeviation.objects.select_related(
            "policy", "region", "warehouse", "requested_by", "decided_by", "approval_request",
        ),
        user,
    )


# --- Difference from core --------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One active deviation affecting a site, beside the enterprise standard it replaces."""

    deviation: PolicyDeviation
    standard_value: Any
    in_effect: bool  # effective on the site's local date today (else it starts later)
    applies: bool  # it is the value the resolver returns there today (a warehouse one shadows its region's)

    @property
    def source(self) -> str:
        return source_label(self.deviation.scope_type, self.deviation.scope_code)


def difference_from_core(user: Any, *, warehouse: Warehouse | None = None, region: Region | None = None,
                         at: datetime | None = None) -> list[Difference]:
    """Every approved deviation that affects the site and has not ended, in one query.

    For a warehouse: its own deviations and its region's; for a region: the region's. "Active"
    means approved and ``effective_to`` not before the site's local date (so scheduled ones show,
    marked not yet in effect).
    """
    region_id, _ = _site(warehouse, region)
    day = local_date(at or timezone.now(), warehouse)
    site = Q(region_id=region_id)
    if warehouse is not None:
        site |= Q(warehouse_id=warehouse.pk)
    deviations = list(
        deviations_for(user).filter(site, status=DeviationStatus.APPROVED, effective_to__gte=day, policy__retired=False)
        .order_by("policy__key", "-scope_type", "effective_from")  # warehouse before region
    )
    winners: dict[int, int] = {}
    for deviation in deviations:
        if deviation.effective_from <= day and deviation.policy_id not in winners:
            winners[deviation.policy_id] = deviation.pk
    return [
        Difference(deviation, deviation.policy.standard_value, deviation.effective_from <= day,
                   winners.get(deviation.policy_id) == deviation.pk)
        for deviation in deviations
    ]


@dataclass(frozen=True)
class SiteDeviationCount:
    warehouse: Warehouse
    own: int  # active deviations of the warehouse itself
    inherited: int  # active deviations of its region

    @property
    def total(self) -> int:
        return self.own + self.inherited


def network_deviation_ranking(user: Any, *, at: datetime | None = None) -> list[SiteDeviationCount]:
    """Warehouses in the user's scope, most deviating first, in two queries."""
    instant = at or timezone.now()
    warehouses = list(scope_queryset(Warehouse.objects.select_related("region"), user).order_by("code"))
    earliest = min((local_date(instant, w) for w in warehouses), default=local_date(instant))
    own: dict[int, list[date]] = defaultdict(list)
    by_region: dict[int, list[date]] = defaultdict(list)
    rows = deviations_for(user).filter(status=DeviationStatus.APPROVED, effective_to__gte=earliest,
                                       policy__retired=False).values_list("warehouse_id", "region_id", "effective_to")
    for warehouse_id, region_id, effective_to in rows:
        (own[warehouse_id] if warehouse_id else by_region[region_id]).append(effective_to)
    ranking = []
    for warehouse in warehouses:
        day = local_date(instant, warehouse)
        ranking.append(SiteDeviationCount(
            warehouse,
            sum(1 for end in own[warehouse.pk] if end >= day),
            sum(1 for end in by_region[warehouse.region_id] if end >= day),
        ))
    ranking.sort(key=lambda row: (-row.total, row.warehouse.code))
    return ranking
