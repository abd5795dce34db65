"""Reads of transfers shared by the API and screens: the transfer cycle time KPI.

Percentiles do not add up (the median of two warehouses is not the median of their medians), so each level of
the breakdown (receiving warehouse, its region, the whole scope) is its own grouped query, computed by PostgreSQL's
``percentile_cont`` over the transfers' own timestamps: three queries plus one per region or warehouse named,
whatever the number of transfers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db.models import Aggregate, Count, DateField, F, FloatField, Func, QuerySet
from django.utils import timezone

from erp.exceptions import NotFound, ValidationFailed
from erp.scoping import scope_queryset
from warehouses.models import Region, Warehouse
from warehouses.transfers.models import Transfer, TransferStatus

CYCLE_TIME_DEFAULT_DAYS = 30
CYCLE_TIME_MAX_DAYS = 366
HOURS_QUANTUM = Decimal("0.01")
SECONDS_PER_HOUR = 3600


class PercentileCont(Aggregate):
    """``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``: the continuous percentile (interpolated
    between the two nearest values), ``None`` over no rows."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("a percentile's fraction is from 0 to 1")
        super().__init__(expression, fraction=float(fraction), **extra)


class _Hours(Func):
    """The hours from ``start`` to ``end`` (two timestamps with time zone), as a float."""

    template = f"EXTRACT(EPOCH FROM (%(expressions)s))::double precision / {SECONDS_PER_HOUR}"
    arg_joiner = " - "
    output_field = FloatField()

    def __init__(self, end: str, start: str) -> None:
        super().__init__(F(end), F(start))


class _LocalDate(Func):
    """The date of a timestamp in a time zone named by another column (the receiving warehouse's)."""

    template = "(%(expressions)s)::date"
    arg_joiner = " AT TIME ZONE "
    output_field = DateField()


@dataclass(frozen=True)
class CycleTimes:
    """Received transfers and the median and p90 of their two cycle times, in hours (``None`` over none)."""

    transfers: int
    dispatch_to_receipt_median: Decimal | None
    dispatch_to_receipt_p90: Decimal | None
    request_to_receipt_median: Decimal | None
    request_to_receipt_p90: Decimal | None


@dataclass(frozen=True)
class CycleTimeRow:
    region: str
    warehouse: str | None  # None: the region's row
    times: CycleTimes


@dataclass(frozen=True)
class TransferCycleTime:
    date_from: dt.date
    date_to: dt.date
    region: str | None
    warehouse: str | None
    overall: CycleTimes
    regions: list[CycleTimeRow]
    warehouses: list[CycleTimeRow]


def _hours(value: float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(value)).quantize(HOURS_QUANTUM, rounding=ROUND_HALF_EVEN)


_FIGURES = {
    "transfers": Count("id"),
    "dispatch_median": PercentileCont(_Hours("received_at", "dispatched_at"), 0.5),
    "dispatch_p90": PercentileCont(_Hours("received_at", "dispatched_at"), 0.9),
    "request_median": PercentileCont(_Hours("received_at", "created_at"), 0.5),
    "request_p90": PercentileCont(_Hours("received_at", "created_at"), 0.9),
}


def _times(row: dict[str, Any]) -> CycleTimes:
    return CycleTimes(transfers=row["transfers"], dispatch_to_receipt_median=_hours(row["dispatch_median"]),
                      dispatch_to_receipt_p90=_hours(row["dispatch_p90"]),
                      request_to_receipt_median=_hours(row["request_median"]),
                      request_to_receipt_p90=_hours(row["request_p90"]))


def cycle_time_transfers(user: Any) -> QuerySet[Transfer]:
    """The received transfers whose cycle time ``user`` may read: those received at a warehouse in their scope
    (the figure is the receiving warehouse's; a sender outside the target's scope does not read it)."""
    targets = scope_queryset(Warehouse.objects.all(), user).values("pk")
    return (scope_queryset(Transfer.objects.all(), user)
            .filter(status=TransferStatus.RECEIVED, received_at__isnull=False, dispatched_at__isnull=False,
                    to_warehouse_id__in=targets))


def transfer_cycle_time(*, user: Any, date_from: dt.date, date_to: dt.date, region: str | None = None,
                        warehouse: str | None = None) -> TransferCycleTime:
    """Transfer cycle time: the median and 90th percentile of dispatch-to-receipt (``dispatched_at`` to
    ``received_at``) and request-to-receipt (``created_at`` to ``received_at``), in hours to two places, over the
    transfers fully received in the period, overall and per receiving region and warehouse.

    A transfer is in the period when the date it was received, in the receiving warehouse's time zone, is from
    ``date_from`` to ``date_to`` (inclusive). Only the transfers received in ``user``'s scope
    (``cycle_time_transfers``); ``region`` and ``warehouse`` (the receiving one) narrow them, and either outside
    the scope, or unknown, is ``NotFound``. ``date_from`` after ``date_to`` or a period longer than
    ``CYCLE_TIME_MAX_DAYS`` is ``ValidationFailed``. Figures over no transfers are ``None``.
    """
    if date_from > date_to:
        raise ValidationFailed("The period ends before it starts.", detail={"from": ["Must not be after to."]})
    if (date_to - date_from).days + 1 > CYCLE_TIME_MAX_DAYS:
        raise ValidationFailed(detail={"from": [f"At most {CYCLE_TIME_MAX_DAYS} days from from to to."]})
    transfers = cycle_time_transfers(user)
    if region:
        found = scope_queryset(Region.objects.filter(code=region), user).values_list("pk", flat=True).first()
        if found is None:
            raise NotFound(f"No region {region} in your scope.", detail={"region": ["Not found."]})
        transfers = transfers.filter(to_warehouse__region_id=found)
    if warehouse:
        found = scope_queryset(Warehouse.objects.filter(code=warehouse), user).values_list("pk", flat=True).first()
        if found is None:
            raise NotFound(f"No warehouse {warehouse} in your scope.", detail={"warehouse": ["Not found."]})
        transfers = transfers.filter(to_warehouse_id=found)
    received_on = _LocalDate(F("received_at"), F("to_warehouse__timezone"))
    transfers = transfers.alias(received_on=received_on).filter(received_on__gte=date_from,
                                                                received_on__lte=date_to)
    overall = transfers.aggregate(**_FIGURES)
    by_region = (transfers.values("to_warehouse__region__code").annotate(**_FIGURES)
                 .order_by("to_warehouse__region__code"))
    by_warehouse = (transfers.values("to_warehouse__region__code", "to_warehouse__code").annotate(**_FIGURES)
                    .order_by("to_warehouse__region__code", "to_warehouse__code"))
    return TransferCycleTime(
        date_from=date_from, date_to=date_to, region=region or None, warehouse=warehouse or None,
        overall=_times(overall),
        regions=[CycleTimeRow(row["to_warehouse__region__code"], None, _times(row)) for row in by_region],
        warehouses=[CycleTimeRow(row["to_warehouse__region__code"], row["to_warehouse__code"], _times(row))
                    for row in by_warehouse],
    )


def default_period(date_to: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The ``CYCLE_TIME_DEFAULT_DAYS`` days ending ``date_to`` (today by default)."""
    end = date_to or timezone.localdate()
    return end - dt.timedelta(days=CYCLE_TIME_DEFAULT_DAYS - 1), end
