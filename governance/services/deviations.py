"""Deviations: request, decide through the approval engine, withdraw, expire, ask for review.

A deviation is decided only through the approval engine (document type ``policy_deviation``), by
the policy's process owner and never by its requester: the engine refuses the requester, and the
database refuses a deviation decided by its requester (check constraint) or changed once decided
(trigger). At most one approved deviation covers a policy, site and date: the friendly check here
gives the 409, the exclusion constraint is the guarantee when two approvals race.

Dates are inclusive local dates of the site (see ``governance.selectors``): the warehouse's own
calendar for a warehouse deviation; the UTC calendar for a region deviation. The expiry and review
notice run for the whole network at once, on the calendar that is behind every site (UTC-12), so
they never come before a site's local last day is over.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from erp.actors import Actor, acting_user
from erp.exceptions import ValidationFailed
from erp.scoping import scope_of, scope_queryset
from erp.transactions import command
from governance.exceptions import (
    DeviationOverlap,
    InvalidTransition,
    NotDeviationRequester,
    PolicyNotLocalizable,
)
from governance.models import (
    ApprovalRequest,
    ApprovalStep,
    DeviationStatus,
    Policy,
    PolicyDeviation,
    ScopeLevel,
    ScopeType,
    StepStatus,
)
from governance.registry import declared_policies
from governance.rules import DEVIATION_RATIONALE_MIN_LENGTH, deviation_may_move, source_label
from governance.selectors import local_date, policy_value
from warehouses.models import Region, Warehouse

DOCUMENT_TYPE = "policy_deviation"
REVIEW_NOTICE_POLICY = "governance.deviation_review_notice_days"
LAST_SUPPORTED_DATE = date(2199, 12, 31)


# --- The lifecycle --------------------------------------------------------------------------------


def _move(deviation: PolicyDeviation, to_status: str, **fields: Any) -> PolicyDeviation:
    """Move a (locked) deviation along ``DEVIATION_TRANSITIONS``; any other move is refused."""
    if not deviation_may_move(deviation.status, to_status):
        raise InvalidTransition(
            f"A {deviation.status} deviation cannot become {to_status}.",
            detail={"status": deviation.status, "to": to_status, "number": deviation.number},
        )
    deviation.status = to_status
    for name, value in fields.items():
        setattr(deviation, name, value)
    deviation.save(update_fields=["status", *fields, "updated_at"])
    return deviation


def _locked(deviation_id: int) -> PolicyDeviation:
    return (PolicyDeviation.objects.select_for_update(of=("self",))
            .select_related("policy", "warehouse", "region").get(pk=deviation_id))


def is_process_owner_of(user: Any, policy: Policy) -> bool:
    """The policy's owner: its owner user, or a member of its owner group."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if policy.owner_user_id is not None and policy.owner_user_id == user.pk:
        return True
    return policy.owner_group_id is not None and user.groups.filter(pk=policy.owner_group_id).exists()


def _overlapping_approved(deviation: PolicyDeviation) -> PolicyDeviation | None:
    return (
        PolicyDeviation.objects.filter(
            policy_id=deviation.policy_id, scope_type=deviation.scope_type, warehouse=deviation.warehouse_id,
            region=deviation.region_id, status=DeviationStatus.APPROVED,
            effective_from__lte=deviation.effective_to, effective_to__gte=deviation.effective_from,
        ).exclude(pk=deviation.pk).order_by("effective_from").first()
    )


def _overlap_error(other: PolicyDeviation) -> DeviationOverlap:
    return DeviationOverlap(
        f"{other.number} is approved for {other.effective_from} to {other.effective_to}; these dates overlap it.",
        detail={"deviation": other.number, "effective_from": str(other.effective_from),
                "effective_to": str(other.effective_to)},
    )


def _policy_rules_sync(deviation: PolicyDeviation) -> None:
    """A deviation of the purchase-order approval matrix changes the engine's rules, in this transaction."""
    from governance.services.approvals import PURCHASE_ORDER_MATRIX, purchase_order_rules_sync

    if deviation.policy.key == PURCHASE_ORDER_MATRIX:
        purchase_order_rules_sync()


# --- Requesting -----------------------------------------------------------------------------------


def _site_for(scope_type: Any, scope_code: Any, actor: Actor) -> tuple[Warehouse | None, Region | None]:
    """The warehouse or region named, within the actor's scope (outside it reads as not existing)."""
    if scope_type not in ScopeType.values:
        raise ValidationFailed(detail={"scope_type": [f"One of: {', '.join(ScopeType.values)}."]})
    if not isinstance(scope_code, str) or not scope_code.strip():
        raise ValidationFailed(detail={"scope": ["Name the warehouse or region by its code."]})
    if scope_type == ScopeType.WAREHOUSE:
        warehouse = scope_queryset(Warehouse.objects.select_related("region", "legal_entity"), actor).filter(
            code=scope_code).first()
        if warehouse is None:
            raise ValidationFailed(detail={"scope": [f"Warehouse {scope_code!r} does not exist."]})
        return warehouse, None
    # A region deviation changes every warehouse of the region: the actor must cover it wholly,
    # not merely one of its warehouses (that region reads as not existing, like one out of scope).
    region = scope_queryset(Region.objects.all(), actor).filter(code=scope_code).first()
    if region is None or not scope_of(actor).covers_whole_region(region.pk):
        raise ValidationFailed(detail={"scope": [f"Region {scope_code!r} does not exist."]})
    return None, region


def _validate_request(policy: Policy, value: Any, rationale: Any, effective_from: Any, effective_to: Any,
                      today: date) -> tuple[Any, str]:
    errors: dict[str, list[str]] = {}
    spec = declared_policies().get(policy.key)
    normal = None
    if spec is None:
        errors["policy"] = ["This policy is no longer declared."]
    else:
        try:
            normal = spec.value_type.validate(value)
        except ValidationFailed as exc:
            errors.update(exc.detail)
        else:
            if normal == spec.value_type.validate(policy.standard_value):
                errors["value"] = ["This is the enterprise standard value; a deviation must differ from it."]
    text = rationale.strip() if isinstance(rationale, str) else ""
    if len(text) < DEVIATION_RATIONALE_MIN_LENGTH:
        errors["rationale"] = [f"Explain why, in at least {DEVIATION_RATIONALE_MIN_LENGTH} characters."]
    if not isinstance(effective_from, date):
        errors["effective_from"] = ["Give a date."]
    elif effective_from < today:
        errors["effective_from"] = [f"May not be in the past (today at this site is {today})."]
    if not isinstance(effective_to, date):
        errors["effective_to"] = ["Give a date."]
    elif isinstance(effective_from, date) and effective_to < effective_from:
        errors["effective_to"] = ["Must be on or after effective_from."]
    elif effective_to > LAST_SUPPORTED_DATE:
        errors["effective_to"] = [f"Must be on or before {LAST_SUPPORTED_DATE}."]
    if errors:
        raise ValidationFailed(detail=errors)
    return normal, text


def _next_deviation_id() -> int:
    # The table's own id sequence numbers the deviation too: gap-tolerant, never reused, lock-free.
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('governance_policydeviation', 'id'))")
        return int(cursor.fetchone()[0])


def _owner_step(policy: Policy, warehouse: Warehouse | None) -> Any:
    """The one approval step: the policy's owner decides.

    A named owner user needs no scope (enterprise level). An owner group is reached through its
    members' scopes, like any group step: warehouse level for a warehouse deviation, region level
    (the region wholly) for a region deviation, so a member scoped elsewhere can decide it neither
    on the deviation nor through ``approvals/``.
    """
    from governance.services.approvals import StepSpec

    if policy.owner_group is None:
        return StepSpec(role="process_owner", approver_user=policy.owner_user)
    level = ScopeLevel.WAREHOUSE if warehouse is not None else ScopeLevel.REGION
    return StepSpec(role="process_owner", scope_level=level, approver_user=policy.owner_user,
                    approver_group=policy.owner_group)


@command
def deviation_request(*, policy_key: str, scope_type: str, scope_code: str, value: Any, rationale: str,
                      effective_from: date, effective_to: date, actor: Actor) -> PolicyDeviation:
    """Request another value of a localizable policy for one site and period, and open its approval.

    The site must be in the actor's scope; ``effective_from`` may not be before the site's local
    date; the dates must not overlap an already approved deviation of the policy at that site (409
    ``deviation_overlap``). The approval has one step, decided by the policy's process owner.
    """
    from governance.services.approvals import approval_request_open

    policy = (Policy.objects.select_related("owner_user", "owner_group")
              .filter(key=policy_key, retired=False).first() if isinstance(policy_key, str) else None)
    if policy is None:
        raise ValidationFailed(detail={"policy": [f"Policy {policy_key!r} does not exist."]})
    if not policy.localizable:
        raise PolicyNotLocalizable(detail={"policy": policy.key})
    warehouse, region = _site_for(scope_type, scope_code, actor)
    today = local_date(timezone.now(), warehouse)
    normal, text = _validate_request(policy, value, rationale, effective_from, effective_to, today)

    deviation = PolicyDeviation(
        policy=policy, scope_type=scope_type, warehouse=warehouse, region=region, value=normal, rationale=text,
        effective_from=effective_from, effective_to=effective_to, requested_by=acting_user(actor),
    )
    other = _overlapping_approved(deviation)
    if other is not None:
        raise _overlap_error(other)
    deviation.pk = _next_deviation_id()
    deviation.number = f"DEV-{deviation.pk:06d}"
    deviation.save(force_insert=True)

    site_label = source_label(scope_type, (warehouse or region).code)  # type: ignore[union-attr]  # _site_for gives one
    request = approval_request_open(
        document_type=DOCUMENT_TYPE, document_id=deviation.pk,
        title=f"{deviation.number}: {policy.key} = {normal!r} at {site_label}",
        actor=actor, legal_entity=warehouse.legal_entity if warehouse is not None else None,
        region=region if region is not None else warehouse.region,  # type: ignore[union-attr]  # _site_for gives one
        warehouse=warehouse, category=policy.process,
        steps=[_owner_step(policy, warehouse)],
    )
    deviation.approval_request = request
    deviation.save(update_fields=["approval_request", "updated_at"])
    return deviation


# --- Deciding (through the approval engine) -------------------------------------------------------


def _decision_comment(deviation: PolicyDeviation, actor: Actor) -> str:
    comment = (ApprovalStep.objects.filter(request_id=deviation.approval_request_id, decided_by=acting_user(actor))
               .order_by("-decided_at").values_list("comment", flat=True).first())
    return comment or ""


def _on_approved(document_id: int, actor: Actor) -> None:
    """Engine callback, inside the deciding transaction: the deviation takes effect."""
    deviation = _locked(document_id)
    other = _overlapping_approved(deviation)
    if other is not None:
        raise _overlap_error(other)
    try:
        with transaction.atomic():
            _move(deviation, DeviationStatus.APPROVED, decided_by=actor, decided_at=timezone.now(),
                  decision_note=_decision_comment(deviation, actor))
    except IntegrityError as exc:
        # Another overlapping approval committed after the check above: the exclusion constraint held.
        if "deviation_one_approved_per_site_and_date" in str(exc):
            raise DeviationOverlap(detail={"deviation": deviation.number}) from exc
        raise
    _policy_rules_sync(deviation)


def _on_rejected(document_id: int, actor: Actor) -> None:
    """Engine callback, inside the deciding transaction."""
    deviation = _locked(document_id)
    _move(deviation, DeviationStatus.REJECTED, decided_by=actor, decided_at=timezone.now(),
          decision_note=_decision_comment(deviation, actor))


def _pending_step(deviation: PolicyDeviation) -> ApprovalStep:
    step = None
    if deviation.status == DeviationStatus.REQUESTED and deviation.approval_request_id is not None:
        step = (ApprovalStep.objects.filter(request_id=deviation.approval_request_id, status=StepStatus.PENDING)
                .order_by("sequence").first())
    if step is None:
        raise InvalidTransition(f"{deviation.number} is {deviation.status}, not waiting for a decision.",
                                detail={"status": deviation.status, "number": deviation.number})
    return step


def _decide(deviation: PolicyDeviation, actor: Actor, approve: bool, note: str) -> PolicyDeviation:
    from governance.services.approvals import approval_step_decide

    if not isinstance(note, str):
        raise ValidationFailed(detail={"note": ["Must be text."]})
    approval_step_decide(step=_pending_step(deviation), actor=actor, approve=approve, comment=note.strip())
    return PolicyDeviation.objects.select_related("policy", "warehouse", "region").get(pk=deviation.pk)


def deviation_approve(*, deviation: PolicyDeviation, actor: Actor, note: str = "") -> PolicyDeviation:
    """Approve through the engine (its command is the transaction): the requester gets 409
    ``self_approval_forbidden``, anyone but the policy's owner 403 ``not_an_approver``."""
    return _decide(deviation, actor, True, note)


def deviation_reject(*, deviation: PolicyDeviation, actor: Actor, note: str = "") -> PolicyDeviation:
    """Reject through the engine, with the same rules as ``deviation_approve``."""
    return _decide(deviation, actor, False, note)


# --- Withdrawing, expiring, review ----------------------------------------------------------------


@command
def deviation_withdraw(*, deviation: PolicyDeviation, actor: Actor) -> PolicyDeviation:
    """The requester (or the policy's process owner) withdraws a requested deviation (its approval
    request is cancelled) or stops an approved one at once."""
    from governance.services.approvals import approval_request_cancel

    # Lock order as in approval_step_decide (request, then document), so a withdrawal racing an
    # approval waits instead of deadlocking.
    request_id = PolicyDeviation.objects.filter(pk=deviation.pk).values_list("approval_request_id", flat=True).first()
    if request_id is not None:
        ApprovalRequest.objects.select_for_update(of=("self",)).filter(pk=request_id).first()
    locked = _locked(deviation.pk)
    if actor is None or (locked.requested_by_id != actor.pk and not is_process_owner_of(actor, locked.policy)):
        raise NotDeviationRequester()
    was = locked.status
    _move(locked, DeviationStatus.WITHDRAWN)
    _policy_rules_sync(locked)
    if was == DeviationStatus.REQUESTED and locked.approval_request is not None \
            and locked.approval_request.status == "pending":
        approval_request_cancel(request=locked.approval_request, actor=actor, reason=f"{locked.number} withdrawn")
    return locked


# The zone whose calendar is the last to leave any date: UTC-12 (POSIX names invert the sign).
LAST_CALENDAR = ZoneInfo("Etc/GMT+12")


def earliest_date_anywhere(at: datetime | None = None) -> date:
    """The date of ``at`` (default now) on the calendar that is behind every site's calendar.

    A date before it has ended at every site, wherever the site is.
    """
    return (at or timezone.now()).astimezone(LAST_CALENDAR).date()


@command
def deviations_expire(*, actor: Actor, today: date | None = None, at: datetime | None = None) -> int:
    """Approved deviations whose last day has passed at every site become expired; returns how many.

    ``effective_to`` is a local date of the site. The resolver already stops applying a deviation
    once its site's local last day is over, so expiry is bookkeeping and must never come early: a
    deviation expires only when its last day is before the date at UTC-12 (``today`` overrides that
    date; ``at`` the instant it is taken from). Comparing with the UTC date would expire a Boston
    deviation at 19:00 (20:00 in summer) New York time on its last day, while it still applies.

    Safe to run twice: an expired deviation is no longer approved.
    """
    day = today or earliest_date_anywhere(at)
    due = list(PolicyDeviation.objects.select_for_update(of=("self",))
               .filter(status=DeviationStatus.APPROVED, effective_to__lt=day).order_by("pk"))
    for deviation in due:
        _move(deviation, DeviationStatus.EXPIRED)
    # Every quarter-hour (beat): the approval rules of a policy that routes approvals follow the deviations
    # that started or ended with the date, not only those just decided.
    from governance.services.approvals import purchase_order_rules_sync

    purchase_order_rules_sync()
    return len(due)


@command
def deviations_review_notify(*, actor: Actor, today: date | None = None, at: datetime | None = None) -> int:
    """Raise one ``deviation_expiring`` exception per approved deviation within the review notice.

    The notice is ``governance.deviation_review_notice_days`` before ``effective_to``, counted on
    the same calendar as expiry (the date at UTC-12, see ``deviations_expire``), so a deviation
    still in effect at its site is never skipped because the UTC date has moved on.
    ``review_notified_at`` marks a deviation done, so running twice raises nothing new (and the
    exception's business key ``deviation:<id>`` would fold a second raise into the first anyway).
    """
    from governance.services.exceptions import exception_raise

    day = today or earliest_date_anywhere(at)
    notice_days = int(policy_value(REVIEW_NOTICE_POLICY).value)
    due = list(
        PolicyDeviation.objects.select_for_update(of=("self",)).select_related("policy", "warehouse", "region")
        .filter(status=DeviationStatus.APPROVED, review_notified_at__isnull=True, effective_to__gte=day,
                effective_to__lte=day + timedelta(days=notice_days))
        .order_by("pk")
    )
    now = timezone.now()
    for deviation in due:
        site = source_label(deviation.scope_type, deviation.scope_code)
        exception_raise(
            type="deviation_expiring", business_key=f"deviation:{deviation.pk}",
            title=f"{deviation.number} ({deviation.policy.key} at {site}) expires on {deviation.effective_to}",
            warehouse=deviation.warehouse, region=deviation.region, reference=deviation.number,
            detail={"deviation": deviation.number, "policy": deviation.policy.key, "site": site,
                    "effective_to": str(deviation.effective_to)},
            actor=actor,
        )
        deviation.review_notified_at = now
        deviation.save(update_fields=["review_notified_at", "updated_at"])
    return len(due)


def register_approvable_types() -> None:
    """Register ``policy_deviation`` with the approval engine."""
    from governance.services.approvals import Approvable, register_approvable

    register_approvable(Approvable(
        document_type=DOCUMENT_TYPE, label="Policy deviation", on_approved=_on_approved, on_rejected=_on_rejected,
        url=lambda document_id: reverse("governance:policy-deviation-detail", args=[document_id]),
    ))
