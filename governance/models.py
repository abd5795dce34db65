"""Governance: policies and deviations, the approval engine, exception queues, the audit trail.

Invariants the database guarantees (the services give the friendly errors first):
- at most one approved deviation per policy and site on any date (exclusion constraints);
- nobody decides their own deviation or approval step (check constraints);
- a decided deviation's policy, site, value and dates never change (trigger, see migrations);
- one open exception per type and business key (partial unique index);
- one escalation per exception and level, one notification per dedupe key (unique constraints);
- audit rows are never updated or deleted (trigger).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import BigIntegerRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Coalesce

from erp.models import TimeStampedModel
from erp.scoping import ScopedBy
from erp.validators import currency_validator
from governance.rules import EXCEPTION_KINDS, ROOT_CAUSES, SEVERITIES

USER = settings.AUTH_USER_MODEL


class DeviationSlot(Func):
    """The dates a deviation covers, placed in its own block of one integer line per policy and site.

    ``governance_deviation_slot(policy, scope_type, site, from, to)`` (migration 0001) returns
    ``int8range`` whose bounds are ``key * 100000 + days since 2000-01-01`` with ``key`` unique per
    (policy, scope type, site). Two slots overlap exactly when policy and site match and the date
    ranges (both ends inclusive) overlap, so an exclusion constraint with ``&&`` over it needs only
    PostgreSQL's built-in GiST range support (the embedded server ships no btree_gist).
    """

    function = "governance_deviation_slot"
    output_field = BigIntegerRangeField()

    def __init__(self) -> None:
        super().__init__(F("policy"), F("scope_type"), Coalesce(F("warehouse"), F("region")), F("effective_from"),
                         F("effective_to"))


class ScopeType(models.TextChoices):
    REGION = "region", "Region"
    WAREHOUSE = "warehouse", "Warehouse"


# --- Policies and deviations ------------------------------------------------------------------


class Policy(TimeStampedModel):
    """A named, typed setting with one enterprise standard value, synced from the apps' declarations."""

    key = models.CharField(max_length=100, unique=True)
    description = models.TextField()
    process = models.CharField(max_length=50)
    value_type = models.CharField(max_length=50)
    type_spec = models.JSONField(default=dict, help_text="The value type's parameters, for forms and the API.")
    standard_value = models.JSONField()
    localizable = models.BooleanField(default=True)
    owner_user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    owner_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    retired = models.BooleanField(default=False, help_text="No longer declared by any app.")

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["key"]
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(owner_user__isnull=False) | Q(owner_group__isnull=False), name="policy_has_an_owner"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class DeviationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class PolicyDeviation(TimeStampedModel):
    """A governed local value of a policy for one region or warehouse, for a dated period."""

    number = models.CharField(max_length=20, unique=True)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="deviations")
    scope_type = models.CharField(max_length=10, choices=ScopeType.choices)
    region = models.ForeignKey("warehouses.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    warehouse = models.ForeignKey("warehouses.Warehouse", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    value = models.JSONField()
    rationale = models.TextField()
    effective_from = models.DateField()
    effective_to = models.DateField()
    status = models.CharField(max_length=10, choices=DeviationStatus.choices, default=DeviationStatus.REQUESTED)
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    approval_request = models.OneToOneField("ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    review_notified_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy.site("warehouse", "region")

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope_type="region", region__isnull=False, warehouse__isnull=True)
                           | Q(scope_type="warehouse", warehouse__isnull=False, region__isnull=True)),
                name="deviation_scope_consistent",
            ),
            models.CheckConstraint(condition=Q(effective_to__gte=F("effective_from")),
                                   name="deviation_dates_ordered"),
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                                   name="deviation_not_decided_by_requester"),
            models.CheckConstraint(
                condition=Q(status__in=["requested", "withdrawn"]) | Q(decided_by__isnull=False)
                | Q(status="expired"),
                name="deviation_decision_has_a_decider",
            ),
            models.CheckConstraint(
                condition=Q(effective_from__gte="2000-01-01", effective_to__lt="2200-01-01"),
                name="deviation_dates_in_supported_span",
            ),
            ExclusionConstraint(
                name="deviation_one_approved_per_site_and_date",
                expressions=[(DeviationSlot(), RangeOperators.OVERLAPS)],
                condition=Q(status="approved"),
            ),
        ]
        indexes = [models.Index(fields=["policy", "status", "effective_from", "effective_to"])]

    def __str__(self) -> str:
        return self.number

    @property
    def scope_code(self) -> str:
        site = self.warehouse if self.scope_type == ScopeType.WAREHOUSE else self.region
        return site.code if site is not None else ""


# --- The approval engine ----------------------------------------------------------------------


class ExchangeRate(TimeStampedModel):
    """How many units of ``to_currency`` one unit of ``from_currency`` buys, from a date on."""

    from_currency = models.CharField(max_length=3, validators=[currency_validator])
    to_currency = models.CharField(max_length=3, validators=[currency_validator])
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    effective_from = models.DateField()

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["from_currency", "to_currency", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["from_currency", "to_currency", "effective_from"],
                                    name="exchangerate_unique_per_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchangerate_positive"),
            models.CheckConstraint(condition=~Q(from_currency=F("to_currency")), name="exchangerate_two_currencies"),
        ]

    def __str__(self) -> str:
        return f"1 {self.from_currency} = {self.rate} {self.to_currency} from {self.effective_from}"


class ScopeLevel(models.TextChoices):
    WAREHOUSE = "warehouse", "Within the document's warehouse"
    REGION = "region", "Within the document's region"
    ENTERPRISE = "enterprise", "Anywhere in the enterprise"


class ApprovalRule(TimeStampedModel):
    """Which steps a document needs: by type, amount band (legal entity currency), category, region."""

    document_type = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    min_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True,
                                     help_text="Inclusive lower bound; empty for no lower bound.")
    max_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True,
                                     help_text="Exclusive upper bound; empty for no upper bound.")
    category = models.CharField(max_length=100, blank=True, help_text="Empty matches every category.")
    region = models.ForeignKey("warehouses.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", help_text="Empty matches every region.")
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower wins when several rules match.")
    active = models.BooleanField(default=True)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["document_type", "priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(max_amount__isnull=True) | Q(max_amount__gt=F("min_amount")),
                name="approvalrule_band_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_type}: {self.name}"


class ApprovalRuleStep(TimeStampedModel):
    rule = models.ForeignKey(ApprovalRule, on_delete=models.CASCADE, related_name="steps")
    sequence = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=50, help_text="A role key of erp.roles, or 'policy_owner'.")
    scope_level = models.CharField(max_length=10, choices=ScopeLevel.choices, default=ScopeLevel.ENTERPRISE)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["rule", "sequence"]
        constraints = [models.UniqueConstraint(fields=["rule", "sequence"], name="approvalrulestep_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id}#{self.sequence} {self.role}@{self.scope_level}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class ApprovalRequest(TimeStampedModel):
    """One document's way through its approval steps."""

    document_type = models.CharField(max_length=50)
    document_id = models.BigIntegerField()
    title = models.CharField(max_length=300)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    base_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True,
                                      help_text="The amount in the legal entity's currency.")
    legal_entity = models.ForeignKey("warehouses.LegalEntity", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    region = models.ForeignKey("warehouses.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    warehouse = models.ForeignKey("warehouses.Warehouse", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    category = models.CharField(max_length=100, blank=True)
    rule = models.ForeignKey(ApprovalRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    decided_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy.site("warehouse", "region", unscoped_visible=True)

    class Meta(TimeStampedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["document_type", "document_id"], condition=Q(status="pending"),
                                    name="approvalrequest_one_pending_per_document"),
        ]

    def __str__(self) -> str:
        return f"{self.document_type}#{self.document_id}"


class StepStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for an earlier step"
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SKIPPED = "skipped", "Skipped"


class ApprovalStep(TimeStampedModel):
    """One decision a request needs. ``requested_by`` is copied so the database can refuse self-approval."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="steps")
    sequence = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=50)
    scope_level = models.CharField(max_length=10, choices=ScopeLevel.choices)
    approver_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approver_user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.WAITING)
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    on_behalf_of = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                     help_text="The delegator, when a delegate decided.")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    scoped_by = ScopedBy.site("request__warehouse", "request__region", unscoped_visible=True)

    class Meta(TimeStampedModel.Meta):
        ordering = ["request", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["request", "sequence"], name="approvalstep_unique"),
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                                   name="approvalstep_not_decided_by_requester"),
            models.CheckConstraint(
                condition=Q(on_behalf_of__isnull=True) | ~Q(on_behalf_of=F("requested_by")),
                name="approvalstep_not_delegated_by_requester",
            ),
            models.CheckConstraint(
                condition=Q(approver_group__isnull=False) | Q(approver_user__isnull=False),
                name="approvalstep_has_an_approver",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}#{self.sequence} {self.role}"


class Delegation(TimeStampedModel):
    """``delegate`` may decide ``delegator``'s approval steps between the two dates (inclusive)."""

    delegator = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="delegations_given")
    delegate = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="delegations_received")
    starts_on = models.DateField()
    ends_on = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    scoped_by = ScopedBy.enterprise()

    class Meta(TimeStampedModel.Meta):
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(condition=~Q(delegate=F("delegator")), name="delegation_not_to_self"),
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="delegation_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.delegator} -> {self.delegate}"


# --- Exception queues -------------------------------------------------------------------------


class ExceptionStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    CANCELLED = "cancelled", "Cancelled"


OPEN_EXCEPTION_STATUSES = (ExceptionStatus.OPEN, ExceptionStatus.ACKNOWLEDGED)


class OperationalException(TimeStampedModel):
    """A typed exception in a queue, owned by a role at a warehouse or region, with an SLA."""

    number = models.CharField(max_length=20, unique=True)
    type = models.CharField(max_length=30, choices=[(k, v.label) for k, v in EXCEPTION_KINDS.items()])
    severity = models.CharField(max_length=10, choices=[(s, s.title()) for s in SEVERITIES])
    status = models.CharField(max_length=15, choices=ExceptionStatus.choices, default=ExceptionStatus.OPEN)
    warehouse = models.ForeignKey("warehouses.Warehouse", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    region = models.ForeignKey("warehouses.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    owner_role = models.CharField(max_length=50)
    business_key = models.CharField(max_length=200)
    reference = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    raised_count = models.PositiveIntegerField(default=1)
    first_raised_at = models.DateTimeField()
    last_raised_at = models.DateTimeField()
    due_at = models.DateTimeField()
    escalation_level = models.PositiveSmallIntegerField(default=0)
    acknowledged_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    root_cause = models.CharField(max_length=30, blank=True, choices=list(ROOT_CAUSES.items()))
    resolution_note = models.TextField(blank=True)

    scoped_by = ScopedBy.site("warehouse", "region", unscoped_visible=True)

    class Meta(TimeStampedModel.Meta):
        ordering = ["due_at", "id"]
        verbose_name = "exception"
        constraints = [
            models.UniqueConstraint(fields=["type", "business_key"], condition=Q(status__in=["open", "acknowledged"]),
                                    name="exception_one_open_per_business_key"),
            models.CheckConstraint(condition=~Q(status="resolved") | ~Q(root_cause=""),
                                   name="exception_resolved_has_root_cause"),
            models.CheckConstraint(condition=Q(raised_count__gte=1), name="exception_raised_at_least_once"),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["type", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.type}"


class EscalationEvent(models.Model):
    exception = models.ForeignKey(OperationalException, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField()
    to_role = models.CharField(max_length=50)
    escalated_at = models.DateTimeField()
    due_at = models.DateTimeField(help_text="The SLA deadline that was missed.")

    scoped_by = ScopedBy.site("exception__warehouse", "exception__region", unscoped_visible=True)

    class Meta:
        ordering = ["exception", "level"]
        constraints = [models.UniqueConstraint(fields=["exception", "level"], name="escalation_once_per_level")]

    def __str__(self) -> str:
        return f"{self.exception_id} -> level {self.level}"


class Notification(models.Model):
    """The outbox: written in the transaction that decides to notify, sent by a task after commit.

    ``claimed_at`` is when the latest send began (committed before the email leaves; see
    ``governance.services.exceptions.notification_send``), ``attempts`` how many sends began, and
    ``message_id`` the Message-ID every send of this notification carries, fixed by the first one.
    """

    dedupe_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=50)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    exception = models.ForeignKey(OperationalException, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="notifications")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    scoped_by = ScopedBy.site("exception__warehouse", "exception__region", unscoped_visible=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["sent_at"])]

    def __str__(self) -> str:
        return self.dedupe_key


# --- The audit trail --------------------------------------------------------------------------


class AuditEvent(models.Model):
    """One row change, written by a database trigger on every audited table (never by Python).

    ``changes`` holds, for an insert, the new row; for an update, ``{field: [old, new]}`` of the
    fields that changed; for a delete, the old row. ``actor_id`` and ``request_id`` come from the
    transaction's settings ``concord.actor_id`` and ``concord.request_id`` (``erp.transactions``).
    """

    occurred_at = models.DateTimeField()
    table_name = models.CharField(max_length=100)
    row_id = models.CharField(max_length=64)
    operation = models.CharField(max_length=6)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
                              related_name="+")
    request_id = models.CharField(max_length=64, blank=True)
    transaction_id = models.BigIntegerField()
    changes = models.JSONField()
    warehouse_id = models.BigIntegerField(null=True, blank=True)
    region_id = models.BigIntegerField(null=True, blank=True)

    scoped_by = ScopedBy.site("warehouse_id", "region_id", unscoped_visible=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["table_name", "row_id"]),
            models.Index(fields=["occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name}#{self.row_id}"
