"""Admin for governance: policies, deviations, approvals, delegations, rates, exceptions, the audit trail.

Every page is scoped (``erp.admin_scoping.ScopedAdminMixin``); nothing here writes a row itself.
Policies come from the apps' declarations, deviations and approvals move only through the approval
engine, exceptions through their services: those pages are read-only, with admin actions that
call the services (a refusal becomes an error message, never a 500). Delegations, exchange
rates and approval rules are written through their services. Audit events are written by the database trigger alone and
are strictly read-only here (no add, change or delete), and shown within the reader's scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from erp.admin_scoping import ReadOnlyInlineMixin, ScopedAdminMixin, ScopedReadOnlyAdmin, ServiceAdminMixin
from erp.exceptions import DomainError
from erp.scoping import scope_queryset
from governance.audit import audit_events_for, field_changes, model_label_of
from governance.exceptions import SelfApprovalForbidden
from governance.models import (
    ApprovalRequest,
    ApprovalRule,
    ApprovalRuleStep,
    ApprovalStep,
    AuditEvent,
    Delegation,
    EscalationEvent,
    ExchangeRate,
    Notification,
    OperationalException,
    Policy,
    PolicyDeviation,
)
from governance.services import approvals as approval_services
from governance.services import deviations as deviation_services
from governance.services import exceptions as exception_services
from governance.services import policies as policy_services

SELF_APPROVAL_MESSAGE = "You cannot approve your own request"




def _run_per_object(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], verb: str,
                    call: Callable[[Any], Any], explain: Callable[[DomainError, Any], str] | None = None) -> None:
    """Call a service once per selected object (each its own command); report successes and refusals."""
    done = 0
    for obj in queryset:
        try:
            call(obj)
        except DomainError as error:
            message = explain(error, obj) if explain else f"{obj}: {error.message}"
            modeladmin.message_user(request, message, messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{verb.capitalize()} {done} of {len(queryset)}.", messages.SUCCESS)


# --- policies and deviations --------------------------------------------------------------------------


@admin.register(Policy)
class PolicyAdmin(ServiceAdminMixin, ScopedReadOnlyAdmin):
    """The catalog as synced from the apps' declarations; standard values change in code, not here.

    Only the owner is edited here (by roles with ``governance.change_policy``), through
    ``policy_owner_set``: exactly one of owner user and owner group.
    """

    list_display = ["key", "process", "value_type", "standard_value", "localizable", "owner_user", "owner_group",
                    "retired"]
    list_filter = ["process", "value_type", "localizable", "retired"]
    search_fields = ["key", "description"]
    list_select_related = ["owner_user", "owner_group"]
    ordering = ["key"]
    owner_fields = ("owner_user", "owner_group")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_change_permission(self, request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in self.model._meta.fields if field.name not in self.owner_fields]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "owner_user":
            kwargs["queryset"] = get_user_model().objects.filter(
                is_active=True, groups__name=policy_services.PROCESS_OWNER_GROUP).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        return policy_services.policy_owner_set(policy=obj, actor=request.user, **self.fields_for(
            form, self.owner_fields))


@admin.register(PolicyDeviation)
class PolicyDeviationAdmin(ScopedReadOnlyAdmin):
    """Deviations, read-only: approve and reject are actions through the approval engine."""

    list_display = ["number", "policy", "scope_type", "warehouse", "region", "value", "effective_from",
                    "effective_to", "status", "requested_by", "decided_by"]
    list_filter = ["status", "scope_type", ("policy", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["number", "policy__key", "rationale"]
    list_select_related = ["policy", "warehouse", "region", "requested_by", "decided_by"]
    date_hierarchy = "effective_from"
    actions = ["approve", "reject"]

    @staticmethod
    def _explain(error: DomainError, deviation: PolicyDeviation) -> str:
        if isinstance(error, SelfApprovalForbidden):
            return f"{deviation.number}: {SELF_APPROVAL_MESSAGE}."
        return f"{deviation.number}: {error.message}"

    @admin.action(description="Approve the selected deviations", permissions=["view"])
    def approve(self, request: HttpRequest, queryset: QuerySet[PolicyDeviation]) -> None:
        _run_per_object(self, request, queryset, "approved",
                        lambda d: deviation_services.deviation_approve(deviation=d, actor=request.user),
                        self._explain)

    @admin.action(description="Reject the selected deviations", permissions=["view"])
    def reject(self, request: HttpRequest, queryset: QuerySet[PolicyDeviation]) -> None:
        _run_per_object(self, request, queryset, "rejected",
                        lambda d: deviation_services.deviation_reject(deviation=d, actor=request.user),
                        self._explain)


# --- the approval engine ----------------------------------------------------------------------------


STEPS_HELP = (
    "The steps in order, separated by commas: role@scope_level, for example "
    "\"warehouse_supervisor@warehouse, planner@region, finance@enterprise\". Roles: {roles}. "
    "Scope levels: warehouse (the document's warehouse), region (every warehouse of its region), "
    "enterprise (anyone holding the role). Saving replaces all the steps. Requests already open keep "
    "the steps they were opened with; the change applies to requests opened from now on."
)


def steps_text(rule: ApprovalRule | None) -> str:
    """A rule's steps as the admin edits them: ``role@scope_level, role@scope_level``."""
    if rule is None or rule.pk is None:
        return ""
    return ", ".join(f"{step.role}@{step.scope_level}" for step in rule.steps.order_by("sequence"))


class ApprovalRuleForm(forms.ModelForm):
    """The rule's own fields, and its steps as one line of text (parsed here, validated by the service)."""

    steps = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))

    class Meta:
        model = ApprovalRule
        fields = ["document_type", "name", "min_amount", "max_amount", "category", "region", "priority", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["steps"].help_text = STEPS_HELP.format(roles=", ".join(approval_services.step_roles()))
        if not self.is_bound:
            self.initial["steps"] = steps_text(self.instance)

    def clean_steps(self) -> list[tuple[str, str]]:
        parsed = []
        for number, part in enumerate(self.cleaned_data["steps"].replace("\n", ",").split(","), start=1):
            part = part.strip()
            if not part:
                continue
            role, at, level = part.partition("@")
            if not at or not role.strip() or not level.strip():
                raise forms.ValidationError(f"Step {number} ({part!r}): write it as role@scope_level.")
            parsed.append((role.strip(), level.strip()))
        return parsed


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(ServiceAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Approval rules, added and changed through ``approval_rule_save`` (never deleted: deactivate instead).

    The steps are edited as one text field (``role@scope_level, ...``) and replaced as a whole on save,
    so a rule and its steps change together in one command and the service validates both.
    """

    form = ApprovalRuleForm
    list_display = ["document_type", "name", "min_amount", "max_amount", "category", "region", "priority", "active",
                    "step_list"]
    list_filter = ["document_type", "active", ("region", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "document_type", "category"]
    list_select_related = ["region"]
    list_per_page = 100
    fields = ["document_type", "name", "min_amount", "max_amount", "category", "region", "priority", "active",
              "steps"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApprovalRule]:
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description="steps")
    def step_list(self, rule: ApprovalRule) -> str:
        return ", ".join(f"{step.role}@{step.scope_level}" for step in rule.steps.all())

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        data = form.cleaned_data
        return approval_services.approval_rule_save(
            actor=request.user, rule=obj if change else None, document_type=data["document_type"],
            name=data["name"], min_amount=data["min_amount"], max_amount=data["max_amount"],
            category=data["category"], region=data["region"], priority=data["priority"], active=data["active"],
            steps=data["steps"])


@admin.register(ApprovalRuleStep)
class ApprovalRuleStepAdmin(ScopedReadOnlyAdmin):
    list_display = ["rule", "sequence", "role", "scope_level"]
    list_filter = ["role", "scope_level"]
    search_fields = ["rule__name", "role"]
    list_select_related = ["rule"]


class ApprovalStepInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ApprovalStep
    fields = ["sequence", "role", "scope_level", "approver_group", "approver_user", "status", "decided_by",
              "on_behalf_of", "decided_at", "comment"]


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ScopedReadOnlyAdmin):
    list_display = ["id", "document_type", "document_id", "title", "amount", "currency", "warehouse", "region",
                    "status", "requested_by", "created_at"]
    list_filter = ["status", "document_type"]
    search_fields = ["title", "document_type"]
    list_select_related = ["warehouse", "region", "requested_by"]
    date_hierarchy = "created_at"
    inlines = [ApprovalStepInline]


@admin.register(ApprovalStep)
class ApprovalStepAdmin(ScopedReadOnlyAdmin):
    list_display = ["request", "sequence", "role", "scope_level", "status", "decided_by", "decided_at"]
    list_filter = ["status", "role"]
    search_fields = ["request__title"]
    list_select_related = ["request", "decided_by"]


class DelegationForm(forms.ModelForm):
    class Meta:
        model = Delegation
        fields = ["delegator", "delegate", "starts_on", "ends_on", "note"]


@admin.register(Delegation)
class DelegationAdmin(ServiceAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Delegations are created through ``delegation_create`` and ended with the revoke action, never edited."""

    form = DelegationForm
    list_display = ["delegator", "delegate", "starts_on", "ends_on", "revoked_at", "note"]
    list_filter = ["revoked_at", "starts_on"]
    search_fields = ["delegator__username", "delegate__username", "note"]
    list_select_related = ["delegator", "delegate"]
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delegation]:
        return scope_queryset(approval_services.delegations_visible_to(request.user), request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        return approval_services.delegation_create(actor=request.user, **self.fields_for(
            form, ("delegator", "delegate", "starts_on", "ends_on", "note")))

    @admin.action(description="Revoke the selected delegations", permissions=["view"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Delegation]) -> None:
        _run_per_object(self, request, queryset, "revoked",
                        lambda d: approval_services.delegation_revoke(delegation=d, actor=request.user))


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["from_currency", "to_currency", "rate", "effective_from"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ServiceAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Rates are recorded (or corrected) through ``exchange_rate_set``; a pair and date is its identity."""

    form = ExchangeRateForm
    list_display = ["from_currency", "to_currency", "rate", "effective_from", "updated_at"]
    list_filter = ["from_currency", "to_currency"]
    search_fields = ["from_currency", "to_currency"]
    date_hierarchy = "effective_from"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["from_currency", "to_currency", "effective_from"] if obj is not None else []

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> Model:
        return approval_services.exchange_rate_set(
            from_currency=obj.from_currency, to_currency=obj.to_currency, effective_from=obj.effective_from,
            rate=form.cleaned_data["rate"], actor=request.user)


# --- exception queues ---------------------------------------------------------------------------------


class EscalationInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = EscalationEvent
    fields = ["level", "to_role", "escalated_at", "due_at"]


@admin.register(OperationalException)
class OperationalExceptionAdmin(ScopedReadOnlyAdmin):
    list_display = ["number", "type", "severity", "status", "warehouse", "region", "owner_role", "due_at",
                    "escalation_level", "raised_count"]
    list_filter = ["status", "type", "severity", ("warehouse", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["number", "business_key", "reference", "title"]
    list_select_related = ["warehouse", "region"]
    date_hierarchy = "due_at"
    inlines = [EscalationInline]
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge the selected exceptions", permissions=["view"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[OperationalException]) -> None:
        _run_per_object(self, request, queryset, "acknowledged",
                        lambda e: exception_services.exception_acknowledge(exception=e, actor=request.user))


@admin.register(EscalationEvent)
class EscalationEventAdmin(ScopedReadOnlyAdmin):
    list_display = ["exception", "level", "to_role", "escalated_at", "due_at"]
    list_filter = ["to_role", "level"]
    search_fields = ["exception__number"]
    list_select_related = ["exception"]


@admin.register(Notification)
class NotificationAdmin(ScopedReadOnlyAdmin):
    list_display = ["dedupe_key", "kind", "subject", "created_at", "sent_at", "attempts"]
    list_filter = ["kind", "sent_at"]
    search_fields = ["dedupe_key", "subject"]
    date_hierarchy = "created_at"


# --- the audit trail ------------------------------------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedReadOnlyAdmin):
    """The trail, strictly read-only: the database trigger writes it and refuses any change."""

    list_display = ["id", "occurred_at", "table_name", "model_label", "row_id", "operation", "actor", "request_id",
                    "changed_fields"]
    list_filter = ["table_name", "operation", "occurred_at"]
    search_fields = ["=row_id", "=request_id"]
    list_select_related = ["actor"]
    date_hierarchy = "occurred_at"
    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return audit_events_for(request.user)

    # Not named ``model``: ModelAdmin keeps its model class there, which the changelist would call instead.
    @admin.display(description="model")
    def model_label(self, event: AuditEvent) -> str:
        return model_label_of(event.table_name) or ""

    @admin.display(description="fields")
    def changed_fields(self, event: AuditEvent) -> str:
        return ", ".join(change.field for change in field_changes(event))
