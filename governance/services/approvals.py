"""The approval engine: one engine for every approvable document.

A document type registers an ``Approvable`` (its label, where it is shown, and what happens to the
document when its request is approved or rejected). The document's own service opens a request
inside its transaction with ``approval_request_open``; the steps come from the matching
``ApprovalRule`` (amount band in the legal entity's currency, category, region) or are given
explicitly. Approvers decide the current step with ``approval_step_decide``; the last approval
or any rejection calls the document type back in the same transaction.

Who may decide a step (``_decidable_by``, the one definition used by the decision and by the
"waiting for me" selector):
- the step's named ``approver_user``; or
- a member of its ``approver_group`` whose scope covers the document at the step's level
  (``warehouse``: the document's warehouse; ``region``: every warehouse of the document's region,
  so a warehouse-scoped user is not a regional approver; ``enterprise``: anyone in the group);
- or a user to whom such a person has delegated (dates including today, not revoked): the
  decision records ``on_behalf_of``.
Segregation of duties: the requester never decides, neither directly nor through a delegate; the
database refuses it as well (check constraints on ``ApprovalStep``). Superusers are not approvers
unless they hold the role.

Locking order: the request row, then its steps by sequence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from erp.actors import Actor, acting_user
from erp.exceptions import PermissionDenied, ValidationFailed
from erp.roles import ROLE_BY_KEY
from erp.scoping import Scope, scope_of
from erp.transactions import command
from governance.exceptions import (
    ApprovalAlreadyDecided,
    ApprovalAlreadyOpen,
    DelegationOverlaps,
    DelegationRevoked,
    MissingExchangeRate,
    NoApprovalRule,
    NotAnApprover,
    SelfApprovalForbidden,
    StepNotCurrent,
    UnknownDocumentType,
)
from governance.models import (
    ApprovalRequest,
    ApprovalRule,
    ApprovalRuleStep,
    ApprovalStatus,
    ApprovalStep,
    Delegation,
    ExchangeRate,
    ScopeLevel,
    StepStatus,
)

User = Any  # the auth user model; typed loosely so the module imports before the app registry is ready

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.00000001")
ADMINISTRATOR = "administrator"
PURCHASE_ORDER_MATRIX = "procurement.approval_matrix"
ONE_PENDING_PER_DOCUMENT = "approvalrequest_one_pending_per_document"  # the partial unique index


# --- the registry of approvable document types ------------------------------------------------------


@dataclass(frozen=True)
class StepSpec:
    """One step asked for explicitly: a role (its group approves) or a named user or group."""

    role: str
    scope_level: str = ScopeLevel.ENTERPRISE
    approver_user: User | None = None
    approver_group: Group | None = None


@dataclass(frozen=True)
class Approvable:
    """What the engine needs to know about one document type.

    ``on_approved(document_id, actor)`` and ``on_rejected(document_id, actor)`` run inside the
    deciding transaction (the document type freezes or releases its document there); ``url`` gives
    the document's screen for links from "my approvals".
    """

    document_type: str
    label: str
    on_approved: Callable[[int, User], None]
    on_rejected: Callable[[int, User], None]
    url: Callable[[int], str] | None = None


_REGISTRY: dict[str, Approvable] = {}


def register_approvable(approvable: Approvable) -> None:
    """Register (or replace: re-registration after a reload is harmless) a document type."""
    _REGISTRY[approvable.document_type] = approvable


def approvable_for(document_type: str) -> Approvable | None:
    return _REGISTRY.get(document_type)


def approvable_types() -> dict[str, Approvable]:
    return dict(_REGISTRY)


def _registered(document_type: str) -> Approvable:
    approvable = _REGISTRY.get(document_type)
    if approvable is None:
        raise UnknownDocumentType(detail={"document_type": document_type})
    return approvable


def document_url(request: ApprovalRequest) -> str:
    approvable = _REGISTRY.get(request.document_type)
    if approvable is None or approvable.url is None:
        return ""
    return approvable.url(request.document_id)


def document_label(request: ApprovalRequest) -> str:
    approvable = _REGISTRY.get(request.document_type)
    return approvable.label if approvable is not None else request.document_type.replace("_", " ")


# --- exchange rates ---------------------------------------------------------------------------------


def exchange_rate_on(from_currency: str, to_currency: str, on: dt.date) -> Decimal:
    """How many ``to_currency`` one ``from_currency`` buys on ``on``: the latest rate effective then.

    The inverse pair counts too (1 / rate); of the two, the one effective later wins, so updating
    one direction is enough. No rate at all is ``MissingExchangeRate``.
    """
    if from_currency == to_currency:
        return Decimal(1)
    candidates = ExchangeRate.objects.filter(
        Q(from_currency=from_currency, to_currency=to_currency)
        | Q(from_currency=to_currency, to_currency=from_currency),
        effective_from__lte=on,
    ).order_by("-effective_from")
    direct = next((r for r in candidates if r.from_currency == from_currency), None)
    inverse = next((r for r in candidates if r.from_currency == to_currency), None)
    if direct is None and inverse is None:
        raise MissingExchangeRate(detail={"from_currency": from_currency, "to_currency": to_currency,
                                          "on": on.isoformat()})
    if direct is not None and (inverse is None or direct.effective_from >= inverse.effective_from):
        return direct.rate
    assert inverse is not None
    return Decimal(1) / inverse.rate


def amount_convert(amount: Decimal, from_currency: str, to_currency: str, on: dt.date) -> Decimal:
    return (amount * exchange_rate_on(from_currency, to_currency, on)).quantize(CENT)


def _clean_currency(value: str, field: str) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isascii() or not value.isalpha() \
            or not value.isupper():
        raise ValidationFailed(detail={field: ["A three-letter ISO currency code in capitals, such as EUR."]})
    return value


@command
def exchange_rate_set(*, from_currency: str, to_currency: str, rate: Decimal, effective_from: dt.date,
                      actor: User | None) -> ExchangeRate:
    """Record (or correct) the rate of one pair from a date on."""
    errors: dict[str, list[str]] = {}
    for field, value in (("from_currency", from_currency), ("to_currency", to_currency)):
        try:
            _clean_currency(value, field)
        except ValidationFailed as exc:
            errors.update(exc.detail)
    if not errors and from_currency == to_currency:
        errors["to_currency"] = ["Must differ from from_currency."]
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        errors["rate"] = ["Must be a positive number."]
    elif rate.quantize(RATE_PLACES) != rate or rate >= Decimal("10000000000"):
        errors["rate"] = ["At most 10 digits before and 8 after the decimal point."]
    if errors:
        raise ValidationFailed(detail=errors)
    # One statement, INSERT ... ON CONFLICT (pair, date) DO UPDATE: two concurrent posts of the same pair
    # and date both succeed (the later one's rate stands) instead of one hitting the unique constraint.
    ExchangeRate.objects.bulk_create(
        [ExchangeRate(from_currency=from_currency, to_currency=to_currency, effective_from=effective_from,
                      rate=rate)],
        update_conflicts=True, unique_fields=["from_currency", "to_currency", "effective_from"],
        update_fields=["rate", "updated_at"],
    )
    return ExchangeRate.objects.get(from_currency=from_currency, to_currency=to_currency,
                                    effective_from=effective_from)


# --- opening a request --------------------------------------------------------------------------------


def rule_match(*, document_type: str, amount: Decimal | None, category: str = "", region: Any = None,
               ) -> ApprovalRule | None:
    """The active rule for a document: band (min inclusive, max exclusive), category and region.

    A blank rule category and an empty rule region match everything; with no amount only rules
    without bounds apply. The lowest priority wins; on a tie the more specific rule (category,
    then region), then the older one.
    """
    rules = ApprovalRule.objects.filter(document_type=document_type, active=True)
    rules = rules.filter(Q(category="") | Q(category=category or ""))
    region_id = getattr(region, "pk", region)
    rules = rules.filter(Q(region__isnull=True) | Q(region_id=region_id)) if region_id else rules.filter(
        region__isnull=True)
    if amount is None:
        rules = rules.filter(min_amount__isnull=True, max_amount__isnull=True)
    else:
        rules = rules.filter(Q(min_amount__isnull=True) | Q(min_amount__lte=amount),
                             Q(max_amount__isnull=True) | Q(max_amount__gt=amount))
    candidates = sorted(rules, key=lambda r: (r.priority, r.category == "", r.region_id is None, r.pk))
    return candidates[0] if candidates else None


def _role_group(role: str) -> Group:
    spec = ROLE_BY_KEY.get(role)
    if spec is None:
        raise ValidationFailed(detail={"steps": [f"Unknown role {role!r}; name an approver user or group."]})
    group = Group.objects.filter(name=spec.group).first()
    if group is None:
        raise ValidationFailed(detail={"steps": [f"The role group {spec.group!r} does not exist; sync the roles."]})
    return group


def approval_request_open(*, document_type: str, document_id: int, title: str, actor: User,
                          amount: Decimal | None = None, currency: str = "", legal_entity: Any = None,
                          region: Any = None, warehouse: Any = None, category: str = "",
                          steps: list[StepSpec] | None = None) -> ApprovalRequest:
    """Open the approval request of one document, inside the caller's transaction (not a command).

    ``steps=None`` takes them from the matching rule; the amount is converted to the legal
    entity's currency (the warehouse's when not given) at today's rate. The first step is pending,
    the rest wait. A document has at most one pending request.
    """
    _registered(document_type)
    if warehouse is not None:
        region = region or warehouse.region
        legal_entity = legal_entity or warehouse.legal_entity
    if ApprovalRequest.objects.filter(document_type=document_type, document_id=document_id,
                                      status=ApprovalStatus.PENDING).exists():
        raise ApprovalAlreadyOpen(detail={"document_type": document_type, "document_id": document_id})
    if amount is not None and not isinstance(amount, Decimal):
        amount = Decimal(str(amount))
    base_amount = None
    if amount is not None:
        base_currency = legal_entity.currency if legal_entity is not None else (currency or "")
        currency = currency or base_currency
        base_amount = amount_convert(amount, currency, base_currency, timezone.localdate()) if base_currency \
            else amount.quantize(CENT)
    rule = None
    if steps is None:
        rule = rule_match(document_type=document_type, amount=base_amount, category=category, region=region)
        if rule is None:
            raise NoApprovalRule(detail={"document_type": document_type, "amount": str(base_amount)
                                         if base_amount is not None else None, "category": category,
                                         "region": getattr(region, "code", None)})
        rule_steps: list[ApprovalRuleStep] = list(rule.steps.order_by("sequence"))
        steps = [StepSpec(role=s.role, scope_level=s.scope_level) for s in rule_steps]
    if not steps:
        raise ValidationFailed(detail={"steps": ["An approval needs at least one step."]})
    try:
        # A savepoint: a concurrent open of the same document that committed after the check above trips
        # the partial unique index; the caller's transaction survives and gets the same 409.
        with transaction.atomic():
            request = ApprovalRequest.objects.create(
                document_type=document_type, document_id=document_id, title=title[:300], amount=amount,
                currency=currency or "", base_amount=base_amount, legal_entity=legal_entity, region=region,
                warehouse=warehouse, category=category or "", rule=rule, requested_by=actor,
            )
    except IntegrityError as exc:
        if ONE_PENDING_PER_DOCUMENT not in str(exc):
            raise
        raise ApprovalAlreadyOpen(detail={"document_type": document_type, "document_id": document_id}) from exc
    for sequence, spec in enumerate(steps, start=1):
        if spec.scope_level not in ScopeLevel.values:
            raise ValidationFailed(detail={"steps": [f"Unknown scope level {spec.scope_level!r}."]})
        group = spec.approver_group
        if group is None and spec.approver_user is None:
            group = _role_group(spec.role)
        ApprovalStep.objects.create(
            request=request, sequence=sequence, role=spec.role, scope_level=spec.scope_level,
            approver_group=group, approver_user=spec.approver_user, requested_by=actor,
            status=StepStatus.PENDING if sequence == 1 else StepStatus.WAITING,
        )
    return request


def approval_request_cancel(*, request: ApprovalRequest, actor: User, reason: str = "") -> ApprovalRequest:
    """Cancel a pending request (its document was withdrawn), inside the caller's transaction."""
    locked = ApprovalRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
    if locked.status != ApprovalStatus.PENDING:
        raise ApprovalAlreadyDecided(detail={"status": locked.status})
    now = timezone.now()
    note = f"Cancelled: {reason}" if reason else "Cancelled."
    for step in ApprovalStep.objects.select_for_update(of=("self",)).filter(request=locked).order_by("sequence"):
        if step.status in (StepStatus.PENDING, StepStatus.WAITING):
            step.status, step.comment = StepStatus.SKIPPED, note
            step.save(update_fields=["status", "comment", "updated_at"])
    locked.status, locked.decided_at = ApprovalStatus.CANCELLED, now
    locked.save(update_fields=["status", "decided_at", "updated_at"])
    return locked


# --- who may decide -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Principal:
    """A user as an approver: their groups and where they reach at each scope level."""

    user_id: int
    group_ids: frozenset[int]
    scope: Scope


def _principals(users: list[Any]) -> dict[int, _Principal]:
    """Groups and scope of several users in a constant number of queries (plus each scope, cached)."""
    ids = [u.pk for u in users]
    groups: dict[int, set[int]] = {pk: set() for pk in ids}
    for user_id, group_id in get_user_model().groups.through.objects.filter(user_id__in=ids).values_list(
            "user_id", "group_id"):
        groups[user_id].add(group_id)
    # Region-level reach is the scope's own notion of a region covered wholly (Scope.full_region_ids).
    return {user.pk: _Principal(user.pk, frozenset(groups[user.pk]), scope_of(user)) for user in users}


def _decidable_by(p: _Principal, prefix: str = "") -> Q:
    """Steps ``p`` may decide in their own right (the requester exclusion is applied by callers)."""
    def f(name: str) -> str:
        return prefix + name

    by_user = Q(**{f("approver_user_id"): p.user_id})
    if not p.group_ids:
        return by_user
    if p.scope.enterprise:
        reach = Q()
    else:
        warehouse_level = (Q(**{f("request__warehouse_id__in"): p.scope.warehouse_ids})
                           | Q(**{f("request__warehouse__isnull"): True,
                                  f("request__region_id__in"): p.scope.full_region_ids}))
        region_level = (Q(**{f("request__warehouse__region_id__in"): p.scope.full_region_ids})
                        | Q(**{f("request__warehouse__isnull"): True,
                               f("request__region_id__in"): p.scope.full_region_ids}))
        reach = (Q(**{f("scope_level"): ScopeLevel.ENTERPRISE})
                 | Q(**{f("scope_level"): ScopeLevel.WAREHOUSE}) & warehouse_level
                 | Q(**{f("scope_level"): ScopeLevel.REGION}) & region_level)
    return by_user | (Q(**{f("approver_group_id__in"): p.group_ids}) & reach)


def _active_delegations(delegate: Any, on: dt.date) -> QuerySet[Delegation]:
    return Delegation.objects.filter(delegate=delegate, revoked_at__isnull=True, starts_on__lte=on,
                                     ends_on__gte=on, delegator__is_active=True).select_related("delegator")


def _waiting_q(user: Any, on: dt.date) -> Q:
    """Pending steps ``user`` may decide: in their own right, or for an active delegator."""
    delegators = [d.delegator for d in _active_delegations(user, on)]
    principals = _principals([user, *delegators]) if user.is_active else {}
    if not principals:
        return Q(pk__in=[])
    condition = _decidable_by(principals[user.pk])
    for delegator in delegators:
        condition |= _decidable_by(principals[delegator.pk]) & ~Q(requested_by_id=delegator.pk)
    return condition & ~Q(requested_by_id=user.pk)


def approvals_waiting_for(user: Any) -> QuerySet[ApprovalStep]:
    """Pending steps of pending requests that ``user`` may decide now, as approver or delegate."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ApprovalStep.objects.none()
    return (
        ApprovalStep.objects.filter(status=StepStatus.PENDING, request__status=ApprovalStatus.PENDING)
        .filter(_waiting_q(user, timezone.localdate()))
        .select_related("request", "request__warehouse", "request__region", "request__legal_entity",
                        "request__requested_by", "approver_group", "approver_user")
        .order_by("request__created_at", "request_id")
    )


def approval_requests_visible_to(user: Any) -> QuerySet[ApprovalRequest]:
    """Requests in the user's scope, and any request with a step the user may decide now."""
    from erp.scoping import scope_queryset

    if user is None or not getattr(user, "is_authenticated", False):
        return ApprovalRequest.objects.none()
    in_scope = scope_queryset(ApprovalRequest.objects.all(), user)
    waiting = ApprovalStep.objects.filter(status=StepStatus.PENDING, request__status=ApprovalStatus.PENDING).filter(
        _waiting_q(user, timezone.localdate())).values("request_id")
    return ApprovalRequest.objects.filter(Q(pk__in=in_scope.values("pk")) | Q(pk__in=waiting))


def approval_history(request: ApprovalRequest) -> list[ApprovalStep]:
    """The request's steps in order, with who decided each (and for whom) and when."""
    return list(
        ApprovalStep.objects.filter(request=request)
        .select_related("approver_group", "approver_user", "decided_by", "on_behalf_of")
        .order_by("sequence")
    )


def current_step(request: ApprovalRequest) -> ApprovalStep | None:
    return ApprovalStep.objects.filter(request=request, status=StepStatus.PENDING).order_by("sequence").first()


def _decider(step: ApprovalStep, request: ApprovalRequest, actor: User, on: dt.date) -> Any | None:
    """Whom ``actor`` decides for: ``None`` in their own right, or the delegator. Refuses otherwise."""
    if actor.pk == request.requested_by_id:
        raise SelfApprovalForbidden(detail={"step": step.pk})
    delegators = [d.delegator for d in _active_delegations(actor, on).order_by("starts_on", "pk")]
    principals = _principals([actor, *delegators]) if actor.is_active else {}
    this_step = ApprovalStep.objects.filter(pk=step.pk)
    if principals and this_step.filter(_decidable_by(principals[actor.pk])).exists():
        return None
    for_requester = False
    for delegator in delegators:
        if this_step.filter(_decidable_by(principals[delegator.pk])).exists():
            if delegator.pk == request.requested_by_id:
                for_requester = True
                continue
            return delegator
    if for_requester:
        raise SelfApprovalForbidden("A delegate may not decide on behalf of the requester.",
                                    detail={"step": step.pk})
    raise NotAnApprover(detail={"step": step.pk})


def approval_can_decide(*, step: ApprovalStep, user: Any) -> bool:
    """Whether ``user`` could decide ``step`` now (for screens: show the buttons or not)."""
    if step.status != StepStatus.PENDING or user is None or not getattr(user, "is_authenticated", False):
        return False
    try:
        _decider(step, step.request, user, timezone.localdate())
    except (SelfApprovalForbidden, NotAnApprover):
        return False
    return True


# --- deciding -------------------------------------------------------------------------------------------


@command
def approval_step_decide(*, step: ApprovalStep, actor: Actor, approve: bool, comment: str = "") -> ApprovalRequest:
    """Approve or reject the current step of a pending request.

    Locks the request, then its steps. A rejection ends the request (later steps skipped) and calls
    the document type's ``on_rejected``; approving the last step approves the request and calls
    ``on_approved``; otherwise the next step becomes pending.
    """
    if not isinstance(comment, str) or len(comment) > 2000:
        raise ValidationFailed(detail={"comment": ["At most 2000 characters."]})
    request = ApprovalRequest.objects.select_for_update(of=("self",)).get(pk=step.request_id)
    steps = list(ApprovalStep.objects.select_for_update(of=("self",)).filter(request=request).order_by("sequence"))
    target = next(s for s in steps if s.pk == step.pk)
    if request.status != ApprovalStatus.PENDING or target.status in (
            StepStatus.APPROVED, StepStatus.REJECTED, StepStatus.SKIPPED):
        raise ApprovalAlreadyDecided(detail={"request": request.pk, "status": request.status,
                                             "step_status": target.status})
    if target.status != StepStatus.PENDING:
        raise StepNotCurrent(detail={"step": target.pk, "status": target.status})
    approvable = _registered(request.document_type)
    today = timezone.localdate()
    decider = acting_user(actor)
    if decider is None:
        raise PermissionDenied("Approvals are decided by a signed-in user.")
    on_behalf_of = _decider(target, request, decider, today)
    now = timezone.now()
    target.status = StepStatus.APPROVED if approve else StepStatus.REJECTED
    target.decided_by, target.on_behalf_of, target.decided_at, target.comment = decider, on_behalf_of, now, comment
    target.save(update_fields=["status", "decided_by", "on_behalf_of", "decided_at", "comment", "updated_at"])
    later = [s for s in steps if s.sequence > target.sequence]
    if not approve:
        for s in later:
            s.status = StepStatus.SKIPPED
            s.save(update_fields=["status", "updated_at"])
        request.status, request.decided_at = ApprovalStatus.REJECTED, now
        request.save(update_fields=["status", "decided_at", "updated_at"])
        approvable.on_rejected(request.document_id, actor)
    elif later:
        later[0].status = StepStatus.PENDING
        later[0].save(update_fields=["status", "updated_at"])
    else:
        request.status, request.decided_at = ApprovalStatus.APPROVED, now
        request.save(update_fields=["status", "decided_at", "updated_at"])
        approvable.on_approved(request.document_id, actor)
    return request


def approval_request_decide(*, request: ApprovalRequest, actor: Actor, approve: bool, comment: str = "",
                            ) -> ApprovalRequest:
    """Decide whichever step of ``request`` is current (the API's and the screen's entry point)."""
    step = current_step(request)
    if step is None:
        raise ApprovalAlreadyDecided(detail={"request": request.pk, "status": request.status})
    return approval_step_decide(step=step, actor=actor, approve=approve, comment=comment)


# --- delegation -------------------------------------------------------------------------------------------


def _is_administrator(user: Any) -> bool:
    return bool(user.is_superuser or user.groups.filter(name=ROLE_BY_KEY[ADMINISTRATOR].group).exists())


@command
def delegation_create(*, delegator: Any, delegate: Any, starts_on: dt.date, ends_on: dt.date, note: str = "",
                      actor: Actor) -> Delegation:
    """Let ``delegate`` decide ``delegator``'s approval steps between the dates (both inclusive)."""
    if actor is None or (actor.pk != delegator.pk and not _is_administrator(actor)):
        raise PermissionDenied("Only the delegator or an administrator may delegate.")
    errors: dict[str, list[str]] = {}
    if delegate.pk == delegator.pk:
        errors["delegate"] = ["Nobody delegates to themselves."]
    elif not delegate.is_active:
        errors["delegate"] = ["This user is not active."]
    if ends_on < starts_on:
        errors["ends_on"] = ["Must be on or after starts_on."]
    elif ends_on < timezone.localdate():
        errors["ends_on"] = ["A delegation that has already ended would do nothing."]
    if len(note or "") > 300:
        errors["note"] = ["At most 300 characters."]
    if errors:
        raise ValidationFailed(detail=errors)
    # Serialise delegations of one delegator, so two overlapping ones cannot both pass the check.
    get_user_model().objects.select_for_update().filter(pk=delegator.pk).get()
    overlapping = Delegation.objects.filter(delegator=delegator, delegate=delegate, revoked_at__isnull=True,
                                            starts_on__lte=ends_on, ends_on__gte=starts_on).first()
    if overlapping is not None:
        raise DelegationOverlaps(detail={"delegation": overlapping.pk})
    return Delegation.objects.create(delegator=delegator, delegate=delegate, starts_on=starts_on, ends_on=ends_on,
                                     note=note or "")


@command
def delegation_revoke(*, delegation: Delegation, actor: Actor) -> Delegation:
    """End a delegation now; decisions already taken under it stand."""
    locked = Delegation.objects.select_for_update().get(pk=delegation.pk)
    if actor is None or (actor.pk != locked.delegator_id and not _is_administrator(actor)):
        raise PermissionDenied("Only the delegator or an administrator may revoke a delegation.")
    if locked.revoked_at is not None:
        raise DelegationRevoked(detail={"delegation": locked.pk})
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at", "updated_at"])
    return locked


def delegations_visible_to(user: Any) -> QuerySet[Delegation]:
    """Administrators see every delegation; others those they gave or received."""
    qs = Delegation.objects.select_related("delegator", "delegate")
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    if _is_administrator(user):
        return qs
    return qs.filter(Q(delegator=user) | Q(delegate=user))


# --- editing rules ------------------------------------------------------------------------------------------

MAX_RULE_STEPS = 10


def step_roles() -> list[str]:
    """The roles a rule step may name: the roles of ``erp.roles``.

    A policy's owner is not a rule role: documents decided by an owner (deviations) open their
    request with explicit steps naming that owner.
    """
    return list(ROLE_BY_KEY)


def _clean_amount(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        errors[field] = ["Must be a number."]
        return None
    if not amount.is_finite() or amount < 0:
        errors[field] = ["Must be zero or more."]
    elif amount.quantize(CENT) != amount or amount >= Decimal("1e16"):
        errors[field] = ["At most 16 digits before and 2 after the decimal point."]
    return amount


def _validate_rule(*, rule: ApprovalRule | None, document_type: Any, name: Any, min_amount: Any, max_amount: Any,
                   category: Any, priority: Any, active: Any, steps: Any,
                   ) -> tuple[Decimal | None, Decimal | None, list[tuple[str, str]]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(document_type, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", document_type):
        errors["document_type"] = ["A document type code: lower-case letters, digits and _, at most 50."]
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        errors["name"] = ["Give a name of 1 to 200 characters."]
    elif "document_type" not in errors:
        twins = ApprovalRule.objects.filter(document_type=document_type, name=name.strip())
        if rule is not None:
            twins = twins.exclude(pk=rule.pk)
        if twins.exists():
            errors["name"] = ["Another rule of this document type has this name."]
    low = _clean_amount(min_amount, "min_amount", errors)
    high = _clean_amount(max_amount, "max_amount", errors)
    if low is not None and high is not None and "min_amount" not in errors and "max_amount" not in errors \
            and high <= low:
        errors["max_amount"] = ["Must be above the lower bound (the band is min inclusive, max exclusive)."]
    if not isinstance(category, str) or len(category) > 100:
        errors["category"] = ["At most 100 characters."]
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 32767:
        errors["priority"] = ["A whole number from 0 to 32767."]
    if not isinstance(active, bool):
        errors["active"] = ["True or false."]
    clean_steps: list[tuple[str, str]] = []
    step_errors: list[str] = []
    if not isinstance(steps, list | tuple) or not steps:
        step_errors.append("A rule needs at least one step.")
    elif len(steps) > MAX_RULE_STEPS:
        step_errors.append(f"At most {MAX_RULE_STEPS} steps.")
    else:
        roles = step_roles()
        for number, step in enumerate(steps, start=1):
            if not isinstance(step, list | tuple) or len(step) != 2:
                step_errors.append(f"Step {number}: give a role and a scope level.")
                continue
            role, level = step
            if role not in roles:
                step_errors.append(f"Step {number}: unknown role {role!r}; one of: {', '.join(roles)}.")
            if level not in ScopeLevel.values:
                step_errors.append(f"Step {number}: unknown scope level {level!r}; one of: "
                                   f"{', '.join(ScopeLevel.values)}.")
            clean_steps.append((role, level))
    if step_errors:
        errors["steps"] = step_errors
    if errors:
        raise ValidationFailed(detail=errors)
    return low, high, clean_steps


@command
def approval_rule_save(*, actor: Actor, rule: ApprovalRule | None = None, document_type: str, name: str,
                       min_amount: Decimal | None, max_amount: Decimal | None, category: str, region: Any,
                       priority: int, active: bool, steps: list[tuple[str, str]]) -> ApprovalRule:
    """Create a rule (``rule=None``) or change one, with its steps, replaced as given and in that order.

    ``steps`` are (role, scope level) pairs: a role key of ``erp.roles`` and a
    ``ScopeLevel``. The band is min inclusive, max exclusive (either may be None). Requests already
    open keep their steps: a request copies its rule's steps when it opens, so editing or deactivating
    a rule changes only the requests opened afterwards. Rules are never deleted (requests refer to
    them); set ``active=False`` instead.
    """
    editor = acting_user(actor)
    if actor is not None and (editor is None or not editor.has_perm(
            "governance.change_approvalrule" if rule is not None else "governance.add_approvalrule")):
        raise PermissionDenied("Your role may not edit approval rules.")
    locked = ApprovalRule.objects.select_for_update().get(pk=rule.pk) if rule is not None else None
    low, high, clean_steps = _validate_rule(
        rule=locked, document_type=document_type, name=name, min_amount=min_amount, max_amount=max_amount,
        category=category, priority=priority, active=active, steps=steps)
    target = locked or ApprovalRule()
    target.document_type, target.name = document_type, name.strip()
    target.min_amount, target.max_amount = low, high
    target.category, target.region, target.priority, target.active = category.strip(), region, priority, active
    target.save()
    ApprovalRuleStep.objects.filter(rule=target).delete()
    ApprovalRuleStep.objects.bulk_create([
        ApprovalRuleStep(rule=target, sequence=sequence, role=role, scope_level=level)
        for sequence, (role, level) in enumerate(clean_steps, start=1)
    ])
    return target


# --- default rules ------------------------------------------------------------------------------------------


PURCHASE_ORDER = "purchase_order"
# The document types of inventory (``inventory.services``): governance may not import inventory, so the codes
# are repeated here; ``test_approval_rules_everywhere`` checks they stay equal.
STOCK_ADJUSTMENT = "stock_adjustment"
CYCLE_COUNT = "cycle_count"
RuleDefinition = tuple[str, Decimal | None, Decimal | None, list[tuple[str, str]]]  # name, min, max, steps


def _matrix_rules(bands: list[dict[str, Any]], label: str) -> list[RuleDefinition]:
    """One rule per band of an ``ApprovalMatrix`` value, named ``label`` plus the band.

    A band's ``finance`` step is decided anywhere in the enterprise, every other step by that role in the
    document's region.
    """
    rules = []
    lower: Decimal | None = None
    for band in bands:
        upper = Decimal(band["up_to"]) if band["up_to"] is not None else None
        steps: list[tuple[str, str]] = [
            (role, ScopeLevel.ENTERPRISE if role == "finance" else ScopeLevel.REGION) for role in band["steps"]]
        name = label + (f" from {lower:,}" if lower is not None else "") + (
            f" below {upper:,}" if upper is not None else "")
        rules.append((name, lower, upper, steps))
        lower = upper
    return rules


def _purchase_order_rules() -> list[RuleDefinition]:
    """One rule per band of the ``procurement.approval_matrix`` standard (as synced into the registry)."""
    from governance.models import Policy

    matrix = Policy.objects.filter(key=PURCHASE_ORDER_MATRIX).first()
    if matrix is None:  # the registry is synced after every migrate; without it there is no matrix to follow
        return []
    return _matrix_rules(matrix.standard_value, "Purchase orders")


def _region_matrix_label(region: Any) -> str:
    return f"Purchase orders ({region.code})"


def _is_region_matrix_rule(rule: ApprovalRule) -> bool:
    label = _region_matrix_label(rule.region)
    return rule.name == label or rule.name.startswith(label + " ")


def purchase_order_rules_sync(*, today: dt.date | None = None) -> int:
    """Make the region ``purchase_order`` rules follow the region deviations of ``procurement.approval_matrix``.

    Inside the caller's transaction (not a command). For every region whose deviation of the matrix is
    approved and in effect on ``today`` (default: the UTC date, the calendar of a region deviation, as the
    policy resolver reads it) there is one active rule per band of the deviation's value, scoped to the
    region and named like ``Purchase orders (NE) below 5,000.00``; ``rule_match`` prefers it to the
    enterprise rule of the same priority, and its last band is open-ended, so the region's orders follow
    their own matrix whatever the amount. A rule named so for a region without such a deviation (ended,
    withdrawn, expired, not yet started) is deactivated, never deleted: requests refer to it. Rules are
    created, replaced (band and steps) or reactivated only when they differ, so running twice changes
    nothing; returns how many rules changed.

    Called after a deviation of the matrix is approved or withdrawn, every quarter-hour by
    ``deviations_expire`` (a deviation starts and ends with the date), and by ``approval_rules_seed``.
    A warehouse deviation of the matrix has no rule: rules are scoped by region only.
    Locks the matrix's policy row first, so two syncs never create the same rule twice.
    """
    from governance.models import DeviationStatus, Policy, PolicyDeviation, ScopeType

    policy = Policy.objects.select_for_update(of=("self",)).filter(key=PURCHASE_ORDER_MATRIX).first()
    if policy is None:
        return 0
    day = today or timezone.now().astimezone(dt.UTC).date()
    effective = (PolicyDeviation.objects.filter(
        policy=policy, scope_type=ScopeType.REGION, status=DeviationStatus.APPROVED, effective_from__lte=day,
        effective_to__gte=day).select_related("region").order_by("region_id"))
    wanted: dict[tuple[int | None, str], RuleDefinition] = {}  # (region, name): the rule wanted
    for deviation in effective:
        for band_rule in _matrix_rules(deviation.value, _region_matrix_label(deviation.region)):
            wanted[(deviation.region_id, band_rule[0])] = band_rule
    existing = [rule for rule in ApprovalRule.objects.select_for_update(of=("self",))
                .filter(document_type=PURCHASE_ORDER, region__isnull=False)
                .select_related("region").prefetch_related("steps").order_by("pk")
                if _is_region_matrix_rule(rule)]
    changed = 0
    seen: set[tuple[int | None, str]] = set()
    for rule in existing:
        key = (rule.region_id, rule.name)
        definition = wanted.get(key) if key not in seen else None  # a duplicate of a name already kept: retire it
        if definition is None:
            if rule.active:
                rule.active = False
                rule.save(update_fields=["active", "updated_at"])
                changed += 1
            continue
        seen.add(key)
        _, low, high, steps = definition
        current = [(step.role, step.scope_level) for step in sorted(rule.steps.all(), key=lambda s: s.sequence)]
        if (rule.min_amount, rule.max_amount, rule.category, rule.active, current) == (low, high, "", True, steps):
            continue
        rule.min_amount, rule.max_amount, rule.category, rule.active = low, high, "", True
        rule.save(update_fields=["min_amount", "max_amount", "category", "active", "updated_at"])
        if current != steps:
            ApprovalRuleStep.objects.filter(rule=rule).delete()
            ApprovalRuleStep.objects.bulk_create([
                ApprovalRuleStep(rule=rule, sequence=sequence, role=role, scope_level=level)
                for sequence, (role, level) in enumerate(steps, start=1)])
        changed += 1
    for (region_id, name), (_, low, high, steps) in wanted.items():
        if (region_id, name) in seen:
            continue
        rule = ApprovalRule.objects.create(document_type=PURCHASE_ORDER, name=name, min_amount=low, max_amount=high,
                                           region_id=region_id, active=True)
        ApprovalRuleStep.objects.bulk_create([
            ApprovalRuleStep(rule=rule, sequence=sequence, role=role, scope_level=level)
            for sequence, (role, level) in enumerate(steps, start=1)])
        changed += 1
    return changed


DEFAULT_EXCHANGE_RATES = [
    ("EUR", "USD", Decimal("1.08000000"), dt.date(2026, 1, 1)),
    ("USD", "EUR", Decimal("0.92592593"), dt.date(2026, 1, 1)),
]


def default_rules() -> list[tuple[str, str, Decimal | None, Decimal | None, list[tuple[str, str]]]]:
    """(document type, name, min, max, [(role, scope level)]) of the rules a new installation starts with."""
    supervisor = ("warehouse_supervisor", ScopeLevel.WAREHOUSE)
    threshold = Decimal("10000.00")
    variance = Decimal("1000.00")
    return [
        *[(PURCHASE_ORDER, *rule) for rule in _purchase_order_rules()],
        # A stock adjustment or a cycle count reaches the engine only beyond ``inventory.count_variance_tolerance``
        # at its warehouse: an approver of the warehouse's region decides, whatever the amount. A region may route
        # its smaller variances elsewhere with a region rule (the demo gives NE's below 1,000 to its supervisor).
        (STOCK_ADJUSTMENT, "Stock adjustments beyond tolerance", None, None, [("approver", ScopeLevel.REGION)]),
        (CYCLE_COUNT, "Cycle counts beyond tolerance", None, None, [("approver", ScopeLevel.REGION)]),
        # A transfer reaches the engine only above ``transfers.approval_threshold`` at its source (below it, it is
        # approved at once): the approvers of the source's region decide it, and finance too from 10,000, since a
        # transfer between two legal entities moves value between their books.
        ("transfer", f"Transfers below {threshold:,}", None, threshold, [("approver", ScopeLevel.REGION)]),
        ("transfer", f"Transfers from {threshold:,}", threshold, None,
         [("approver", ScopeLevel.REGION), ("finance", ScopeLevel.ENTERPRISE)]),
        ("transfer_write_off", "Transfer write-offs", None, None, [supervisor, ("finance", ScopeLevel.ENTERPRISE)]),
        ("count_variance", f"Count variances below {variance:,}", None, variance, [supervisor]),
        ("count_variance", f"Count variances from {variance:,}", variance, None,
         [supervisor, ("planner", ScopeLevel.ENTERPRISE)]),
        ("master_data_change", "Master data changes", None, None, [("process_owner", ScopeLevel.ENTERPRISE)]),
        # A requisition asks to buy: a buyer of its warehouse's region decides whether to order it, and an
        # approver too from 10,000 (the orders it becomes go through the purchase-order matrix again).
        ("purchase_requisition", f"Requisitions below {threshold:,}", None, threshold,
         [("buyer", ScopeLevel.REGION)]),
        ("purchase_requisition", f"Requisitions from {threshold:,}", threshold, None,
         [("buyer", ScopeLevel.REGION), ("approver", ScopeLevel.REGION)]),
    ]


@command
def approval_rules_seed(*, actor: Actor) -> int:
    """Create the default rules and exchange rates that are missing; return how many rows were created.

    Idempotent: a rule is known by document type and name, and one already there (perhaps edited or
    deactivated by an administrator) is left as it is. The region rules of the purchase-order matrix are
    synced too (``purchase_order_rules_sync``).
    """
    created = 0
    for document_type, name, low, high, steps in default_rules():
        rule, made = ApprovalRule.objects.get_or_create(
            document_type=document_type, name=name, defaults={"min_amount": low, "max_amount": high},
        )
        if made:
            created += 1
            for sequence, (role, level) in enumerate(steps, start=1):
                ApprovalRuleStep.objects.create(rule=rule, sequence=sequence, role=role, scope_level=level)
    for from_currency, to_currency, rate, effective in DEFAULT_EXCHANGE_RATES:
        _, made = ExchangeRate.objects.get_or_create(from_currency=from_currency, to_currency=to_currency,
                                                     effective_from=effective, defaults={"rate": rate})
        created += int(made)
    purchase_order_rules_sync()
    return created


def approval_rules_seed_after_migrate(**kwargs: Any) -> None:
    """post_migrate hook (after the policy registry's): every installation has the default rules.

    Stock adjustments and cycle counts beyond tolerance are routed by rules only, so a database without
    them could not take one. Quiet when the tables are not there yet (a partial or backwards migration).
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    using = kwargs.get("using", DEFAULT_DB_ALIAS)
    if using != DEFAULT_DB_ALIAS:
        return
    tables = set(connections[using].introspection.table_names())
    if not {"governance_approvalrule", "governance_approvalrulestep", "governance_exchangerate",
            "governance_policy", "governance_policydeviation"} <= tables:
        return
    approval_rules_seed(actor=None)
