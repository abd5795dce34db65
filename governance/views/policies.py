"""Governance screens: the policy catalog, deviations (request, decide, withdraw), difference from core.

Every screen calls the same services and selectors as the API; refusals (self-approval, overlap,
bad input) are shown as messages on the page, never as a 500.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from erp.confirm import ConfirmStepView
from erp.exceptions import DomainError
from erp.scoping import scope_of, scope_queryset
from erp.screens import Column, ScreenListView
from governance import selectors
from governance.api.policies import difference_csv, difference_rows
from governance.models import Policy, PolicyDeviation, ScopeType
from governance.services import deviations as services
from governance.services.approvals import approval_can_decide, current_step
from governance.templatetags.policy_tags import policy_name, policy_value
from warehouses.models import Region, Warehouse

VIEW_POLICY = "governance.view_policy"
VIEW_DEVIATION = "governance.view_policydeviation"
ADD_DEVIATION = "governance.add_policydeviation"
SIMPLE_TYPES = {"local_time", "integer", "decimal", "choice", "boolean"}


class PolicyListView(ScreenListView[Policy]):
    model = Policy
    permission_required = VIEW_POLICY
    template_name = "governance/policies/policy_list.html"
    rows_template_name = "governance/policies/_policy_rows.html"
    search_fields = ("key", "description", "process")
    search_placeholder = "Key, description or process"
    title = "Policies"
    columns = (
        Column("Policy", "key", sort="key"),
        Column("Description", "description"),
        Column("Process", "process", sort="process", css="col-opt"),
        Column("Standard", "standard_value"),
        Column("Owner", lambda policy: policy.owner_user.username if policy.owner_user else policy.owner_group.name,
               css="col-opt"),
        Column("Local deviations", lambda policy: "allowed" if policy.localizable else "standard only",
               sort="localizable", css="col-opt"),
    )

    def base_queryset(self) -> QuerySet[Policy]:
        return Policy.objects.filter(retired=False).select_related("owner_user", "owner_group").order_by("key")


@login_required
@permission_required(VIEW_POLICY, raise_exception=True)
def policy_detail(request: HttpRequest, key: str) -> HttpResponse:
    policy = get_object_or_404(selectors.policies_for(request.user), key=key)
    deviations = selectors.deviations_for(request.user).filter(policy=policy).order_by("-id")[:100]
    return render(request, "governance/policies/policy_detail.html", {
        "policy": policy, "deviations": deviations, "standard": policy.standard_value,
        "may_request": policy.localizable and request.user.has_perm(ADD_DEVIATION),
    })


# --- requesting ------------------------------------------------------------------------------------


class DeviationForm(forms.Form):
    site = forms.ChoiceField(label="Site")
    value = forms.CharField(label="Value", widget=forms.Textarea(attrs={"rows": 3}))
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    effective_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, policy: Policy, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy
        warehouses = scope_queryset(Warehouse.objects.order_by("code"), user).values_list("code", "name")
        # A region deviation needs the whole region, not one of its warehouses (see deviation_request).
        scope = scope_of(user)
        regions = [(code, name) for pk, code, name in scope_queryset(Region.objects.order_by("code"), user)
                   .values_list("pk", "code", "name") if scope.covers_whole_region(pk)]
        self.fields["site"] = forms.ChoiceField(label="Site", choices=(
            [(f"warehouse:{code}", f"Warehouse {code} ({name})") for code, name in warehouses]
            + [(f"region:{code}", f"Region {code} ({name})") for code, name in regions]
        ))
        kind = policy.value_type
        if kind in SIMPLE_TYPES:
            if kind == "choice":
                options = policy.type_spec.get("options", [])
                self.fields["value"] = forms.ChoiceField(choices=[(o, o) for o in options])
            elif kind == "boolean":
                self.fields["value"] = forms.ChoiceField(choices=[("true", "Yes"), ("false", "No")])
            else:
                placeholder = {"local_time": "HH:MM", "integer": "a whole number", "decimal": "e.g. 2.50"}[kind]
                self.fields["value"] = forms.CharField(widget=forms.TextInput(attrs={"placeholder": placeholder}))
        else:
            self.fields["value"].help_text = "JSON, in the shape of the standard value."
            self.fields["value"].initial = json.dumps(policy.standard_value, indent=1)

    def parsed_value(self) -> Any:
        raw = self.cleaned_data["value"]
        kind = self.policy.value_type
        if kind in ("local_time", "choice", "decimal"):
            return raw.strip()
        if kind == "boolean":
            return raw == "true"
        if kind == "integer":
            try:
                return int(raw.strip())
            except ValueError:
                return raw
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # the value type reports it as invalid

    def chosen_site(self) -> tuple[str, str]:
        scope_type, code = self.cleaned_data["site"].split(":", 1)
        return scope_type, code


def _report_error(form: forms.Form, error: DomainError) -> None:
    placed = False
    for field, problems in (error.detail or {}).items():
        name = {"scope": "site", "scope_type": "site", "policy": None}.get(field, field)
        if name in form.fields and isinstance(problems, list):
            for problem in problems:
                form.add_error(name, str(problem))
            placed = True
    if not placed:
        form.add_error(None, error.message)


@login_required
@permission_required(ADD_DEVIATION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def deviation_request(request: HttpRequest, key: str) -> HttpResponse:
    policy = get_object_or_404(selectors.policies_for(request.user), key=key)
    if not policy.localizable:
        messages.error(request, f"{policy.key} holds one enterprise standard; it cannot be localized.")
        return redirect("governance:policy-detail", key=policy.key)
    form = DeviationForm(request.POST or None, policy=policy, user=request.user,
                         initial={"effective_from": date.today()})
    if request.method == "POST" and form.is_valid():
        scope_type, code = form.chosen_site()
        try:
            deviation = services.deviation_request(
                policy_key=policy.key, scope_type=scope_type, scope_code=code, value=form.parsed_value(),
                rationale=form.cleaned_data["rationale"], effective_from=form.cleaned_data["effective_from"],
                effective_to=form.cleaned_data["effective_to"], actor=request.user)
        except DomainError as error:
            _report_error(form, error)
        else:
            messages.success(request, f"{deviation.number} requested; the process owner decides it.")
            return redirect("governance:policy-deviation-detail", pk=deviation.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "governance/policies/deviation_request.html", {"policy": policy, "form": form},
                  status=status)


# --- a deviation ------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW_DEVIATION, raise_exception=True)
def deviation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deviation = get_object_or_404(selectors.deviations_for(request.user), pk=pk)
    step = current_step(deviation.approval_request) if deviation.approval_request is not None else None
    may_decide = step is not None and deviation.status == "requested" and approval_can_decide(
        step=step, user=request.user)
    may_withdraw = deviation.status in ("requested", "approved") and (
        deviation.requested_by_id == request.user.pk or services.is_process_owner_of(request.user, deviation.policy))
    return render(request, "governance/policies/deviation_detail.html", {
        "deviation": deviation, "value": deviation.value,
        "standard": deviation.policy.standard_value, "may_decide": may_decide,
        "may_withdraw": may_withdraw, "is_requester": deviation.requested_by_id == request.user.pk,
    })


@login_required
@permission_required(VIEW_DEVIATION, raise_exception=True)
@require_POST
def deviation_act(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject; a refusal is a message on the deviation's page. Withdrawing goes to its confirm step."""
    deviation = get_object_or_404(selectors.deviations_for(request.user), pk=pk)
    act = request.POST.get("action", "")
    note = request.POST.get("note", "")[:2000]
    try:
        if act == "approve":
            services.deviation_approve(deviation=deviation, actor=request.user, note=note)
        elif act == "reject":
            services.deviation_reject(deviation=deviation, actor=request.user, note=note)
        elif act == "withdraw":  # never in one click: through the confirm step, which changes nothing yet
            return redirect("governance:policy-deviation-withdraw", pk=pk)
        else:
            messages.error(request, "Choose approve, reject or withdraw.")
            return redirect("governance:policy-deviation-detail", pk=pk)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{deviation.number}: {act} done.")
    return redirect("governance:policy-deviation-detail", pk=pk)


class DeviationWithdrawView(ConfirmStepView[PolicyDeviation]):
    """Withdraw a requested deviation, or stop an approved one now, through the confirm step (``erp.confirm``).
    Only its requester or the policy's process owner may (the service refuses anyone else)."""

    permission_required = VIEW_DEVIATION
    back_label = "Keep the deviation"

    def get_target(self, pk: int) -> PolicyDeviation:
        return get_object_or_404(selectors.deviations_for(self.request.user), pk=pk)

    def question(self, target: PolicyDeviation) -> str:
        verb = "Stop" if target.status == "approved" else "Withdraw"
        return f"{verb} deviation {target.number}?"

    def page(self, target: PolicyDeviation, form: Any, **kwargs: Any) -> HttpResponse:
        self.button_label = "Stop the deviation now" if target.status == "approved" else "Withdraw the request"
        return super().page(target, form, **kwargs)

    def undoes(self, target: PolicyDeviation) -> list[str]:
        policy = policy_name(target.policy.key)
        where = f"{target.scope_type} {target.scope_code}"
        standard = policy_value(target.policy.standard_value)
        if target.status == "approved":
            return [f"{policy} at {where} goes back from {policy_value(target.value)} to the standard {standard} "
                    f"now, instead of on {target.effective_to}.",
                    "A stopped deviation cannot be resumed: a new one must be requested and approved."]
        return [f"The request for {policy} = {policy_value(target.value)} at {where} ({target.effective_from} to "
                f"{target.effective_to}) is withdrawn, and its approval request is cancelled.",
                f"{policy} stays at the standard {standard}."]

    def back_url(self, target: PolicyDeviation) -> str:
        return reverse("governance:policy-deviation-detail", args=[target.pk])

    def perform(self, target: PolicyDeviation, reason: str) -> str:
        done = services.deviation_withdraw(deviation=target, actor=self.request.user)
        return f"{done.number} is {done.get_status_display().lower()}."


# --- difference from core ---------------------------------------------------------------------------


def _site_from(request: HttpRequest) -> tuple[Warehouse | None, Region | None]:
    warehouse_code = request.GET.get("warehouse", "").strip()
    region_code = request.GET.get("region", "").strip()
    if warehouse_code:
        warehouse = scope_queryset(Warehouse.objects.select_related("region"), request.user).filter(
            code=warehouse_code).first()
        if warehouse is None:
            raise Http404("No such warehouse.")
        return warehouse, None
    if region_code:
        region = scope_queryset(Region.objects.all(), request.user).filter(code=region_code).first()
        if region is None:
            raise Http404("No such region.")
        return None, region
    return None, None


@login_required
@permission_required(VIEW_DEVIATION, raise_exception=True)
def difference(request: HttpRequest) -> HttpResponse:
    """One site's difference from core (``?warehouse=`` or ``?region=``; ``&format=csv`` to export)."""
    warehouse, region = _site_from(request)
    site = warehouse or region
    rows = difference_rows(selectors.difference_from_core(request.user, warehouse=warehouse, region=region)) \
        if site is not None else []
    if site is not None and request.GET.get("format") == "csv":
        return difference_csv(site.code, rows)
    return render(request, "governance/policies/difference.html", {
        "site": site, "site_type": ScopeType.WAREHOUSE if warehouse else ScopeType.REGION, "rows": rows,
        "warehouses": scope_queryset(Warehouse.objects.order_by("code"), request.user),
        "regions": scope_queryset(Region.objects.order_by("code"), request.user),
        "csv_url": f"{reverse('governance:policy-difference')}?{request.GET.urlencode()}&format=csv"
        if site is not None else None,
        "ranking": selectors.network_deviation_ranking(request.user) if site is None else [],
    })


urlpatterns = [
    path("", PolicyListView.as_view(), name="policy-list"),
    path("difference/", difference, name="policy-difference"),
    path("deviations/<int:pk>/", deviation_detail, name="policy-deviation-detail"),
    path("deviations/<int:pk>/act/", deviation_act, name="policy-deviation-act"),
    path("deviations/<int:pk>/withdraw/", DeviationWithdrawView.as_view(), name="policy-deviation-withdraw"),
    path("<str:key>/", policy_detail, name="policy-detail"),
    path("<str:key>/request/", deviation_request, name="policy-deviation-request"),
]
