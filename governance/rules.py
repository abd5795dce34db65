"""Pure governance rules: the exception catalog, precedence of policy sources, SLA arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class ExceptionKind:
    code: str
    label: str
    severity: str  # low, medium, high, critical
    owner_role: str  # a role key of erp.roles: who works it first
    escalation: tuple[str, ...]  # the roles it escalates to, level 1, 2, ...


EXCEPTION_KINDS: dict[str, ExceptionKind] = {kind.code: kind for kind in (
    ExceptionKind("shortage", "Shortage", "high", "planner", ("warehouse_supervisor", "process_owner")),
    ExceptionKind("late_receipt", "Late receipt", "medium", "buyer", ("planner", "process_owner")),
    ExceptionKind("damaged_goods", "Damaged goods", "medium", "warehouse_supervisor", ("planner", "process_owner")),
    ExceptionKind("transfer_discrepancy", "Transfer discrepancy", "high", "warehouse_supervisor",
                  ("planner", "finance")),
    ExceptionKind("count_variance", "Count variance", "medium", "warehouse_supervisor", ("planner", "finance")),
    ExceptionKind("promise_at_risk", "Promise at risk", "high", "customer_service",
                  ("planner", "process_owner")),
    ExceptionKind("anomaly", "Anomaly", "low", "planner", ("process_owner",)),
    ExceptionKind("deviation_expiring", "Deviation expiring", "low", "process_owner", ("administrator",)),
)}
SEVERITIES = ("low", "medium", "high", "critical")
ROOT_CAUSES = {
    "supplier_delay": "Supplier delay",
    "carrier_delay": "Carrier delay",
    "forecast_error": "Forecast error",
    "data_error": "Master-data error",
    "process_not_followed": "Process not followed",
    "damage_in_handling": "Damage in handling",
    "damage_in_transit": "Damage in transit",
    "counting_error": "Counting error",
    "theft_or_loss": "Theft or loss",
    "system_issue": "System issue",
    "policy_change": "Policy reviewed or changed",
    "other": "Other",
}

SOURCE_ENTERPRISE = "enterprise"


def source_label(scope_type: str | None, code: str | None) -> str:
    """``warehouse:NE-BOS``, ``region:NE`` or ``enterprise``, as the API reports a value's source."""
    return f"{scope_type}:{code}" if scope_type and code else SOURCE_ENTERPRISE


def is_effective(effective_from: date, effective_to: date, on: date) -> bool:
    """A deviation applies from its first day through its last day, both inclusive, in local dates."""
    return effective_from <= on <= effective_to


def sla_due(raised_at: datetime, hours: Decimal) -> datetime:
    return raised_at + timedelta(seconds=float(hours) * 3600)


# --- Exception queues: the lifecycle --------------------------------------------------------------

EXCEPTION_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "resolved", "cancelled"}),
    "acknowledged": frozenset({"resolved", "cancelled"}),
    "resolved": frozenset(),
    "cancelled": frozenset(),
}
EXCEPTION_OPEN_STATUSES = ("open", "acknowledged")
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
# An open exception is "due soon" when its SLA deadline falls within this many hours.
DUE_SOON_HOURS = 4


def exception_may_move(current: str, target: str) -> bool:
    return target in EXCEPTION_TRANSITIONS.get(current, frozenset())


def higher_severity(old: str, new: str) -> str:
    """Raising again never lowers an exception's severity."""
    return new if SEVERITY_RANK[new] > SEVERITY_RANK[old] else old


def next_escalation_role(type_code: str, level: int) -> str | None:
    """The role an exception at ``level`` escalates to, or None at the top of its ladder."""
    ladder = EXCEPTION_KINDS[type_code].escalation
    return ladder[level] if level < len(ladder) else None


# --- Policies and deviations ------------------------------------------------------------------

# A deviation's lifecycle: the only moves ``governance.services.deviations`` makes. Decided states
# are final except that an approved deviation may still be withdrawn or expire (the database
# trigger on governance_policydeviation enforces the same table).
DEVIATION_TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"approved", "rejected", "withdrawn"}),
    "approved": frozenset({"expired", "withdrawn"}),
    "rejected": frozenset(),
    "expired": frozenset(),
    "withdrawn": frozenset(),
}
DEVIATION_RATIONALE_MIN_LENGTH = 10


def deviation_may_move(from_status: str, to_status: str) -> bool:
    return to_status in DEVIATION_TRANSITIONS.get(from_status, frozenset())


def ranges_overlap(a_from: date, a_to: date, b_from: date, b_to: date) -> bool:
    """Two inclusive date ranges share at least one day."""
    return a_from <= b_to and b_from <= a_to
