"""Governance screens: "My approvals", one request's step ladder, and delegations.

Deciding posts to one URL; an htmx request gets back the fragment it replaces (the list row or the
detail panel) with the outcome or the refusal in it, a plain form post is redirected with a
message. A refusal (not an approver, own request, already decided) is shown, never a 500.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from erp.confirm import ConfirmStepView
from erp.exceptions import DomainError
from erp.formats import money_text
from erp.screens import Column, ColumnSet, export_name, is_htmx_partial
from governance.models import ApprovalRequest, Delegation
from governance.services import approvals as engine

VIEW_PERMISSION = "governance.view_approvalrequest"


def _visible_request(user: Any, pk: int) -> ApprovalRequest:
    approval = (engine.approval_requests_visible_to(user)
                .select_related("legal_entity", "region", "warehouse", "requested_by").filter(pk=pk).first())
    if approval is None:
        raise Http404("No such approval request.")
    return approval


def _row(step: Any) -> dict[str, Any]:
    request = step.request
    return {
        "step": step, "request": request, "label": engine.document_label(request),
        "url": engine.document_url(request), "age": timezone.now() - request.created_at,
    }


# The inbox's columns: sortable headings, and the CSV of every step waiting for the reader.
INBOX_COLUMNS = (
    Column("Document", lambda step: f"{engine.document_label(step.request)} #{step.request.document_id} "
                                    f"{step.request.title}", sort="request__document_type"),
    Column("Amount", lambda step: money_text(step.request.amount, step.request.currency), sort="request__base_amount",
           css="num"),
    Column("Site", lambda step: step.request.warehouse.code if step.request.warehouse
           else step.request.region.code if step.request.region else "Enterprise", sort="request__warehouse__code"),
    Column("Requested by", "request.requested_by.username", sort="request__requested_by__username"),
    Column("Requested", "request.created_at", sort="request__created_at", key="age"),
    Column("Step", lambda step: f"{step.sequence}. {step.role} ({step.scope_level})"),
    Column("Decision"),
)


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def approval_list(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The steps waiting for the signed-in user's decision, oldest request first (or as sorted); as CSV with
    ``?export=csv``."""
    columns = ColumnSet(request, INBOX_COLUMNS, "age")
    waiting = columns.sorted(engine.approvals_waiting_for(request.user).select_related("request__rule"))
    if columns.wants_export():
        return columns.export(waiting, export_name("my-approvals"))
    return render(request, "governance/approvals/list.html", {
        "rows": [_row(step) for step in waiting], "title": "My approvals",
        "columns": columns.heads(), "export_url": columns.export_url()})


def _panel_context(user: Any, approval: ApprovalRequest, **extra: Any) -> dict[str, Any]:
    steps = engine.approval_history(approval)
    current = next((s for s in steps if s.status == "pending"), None)
    if current is not None:
        current.request = approval
    return {
        "approval": approval, "steps": steps, "current": current,
        "can_decide": current is not None and engine.approval_can_decide(step=current, user=user),
        "label": engine.document_label(approval), "url": engine.document_url(approval), **extra,
    }


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def approval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    approval = _visible_request(request.user, pk)
    return render(request, "governance/approvals/detail.html", _panel_context(request.user, approval))


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_POST
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject the current step; ``target`` says which fragment an htmx caller swaps."""
    approval = _visible_request(request.user, pk)
    decision = request.POST.get("decision", "")
    comment = request.POST.get("comment", "").strip()
    error = ""
    if decision not in ("approve", "reject"):
        error = "Choose approve or reject."
    elif decision == "reject" and not comment:
        error = "Say why you reject it: the requester reads the comment."
    else:
        try:
            engine.approval_request_decide(request=approval, actor=request.user, approve=decision == "approve",
                                           comment=comment[:2000])
        except DomainError as refused:
            error = refused.message
    approval = ApprovalRequest.objects.select_related("legal_entity", "region", "warehouse",
                                                      "requested_by").get(pk=approval.pk)
    done = "" if error else ("Approved." if decision == "approve" else "Rejected.")
    if is_htmx_partial(request):
        if request.POST.get("target") == "row":
            return render(request, "governance/approvals/_row.html",
                          {"row": {"request": approval, "label": engine.document_label(approval),
                                   "url": engine.document_url(approval),
                                   "age": timezone.now() - approval.created_at, "step": None},
                           "error": error, "done": done, "comment": comment})
        return render(request, "governance/approvals/_panel.html",
                      _panel_context(request.user, approval, error=error, done=done))
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("governance:approval-detail", pk=approval.pk)


# --- delegations -------------------------------------------------------------------------------------


def _parse_date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        return None


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def delegation_list(request: HttpRequest) -> HttpResponse:
    """The user's delegations (given and received) and a form to delegate while away."""
    errors: dict[str, str] = {}
    form = {"delegate": "", "starts_on": "", "ends_on": "", "note": ""}
    may_delegate = request.user.has_perm("governance.add_delegation")
    if request.method == "POST":
        form = {key: request.POST.get(key, "").strip() for key in form}
        delegate = get_user_model().objects.filter(username=form["delegate"], is_active=True).first()
        starts_on, ends_on = _parse_date(form["starts_on"]), _parse_date(form["ends_on"])
        if not may_delegate:
            errors["form"] = "Your role may not delegate approvals."
        if delegate is None:
            errors["delegate"] = "No active user with this username."
        if starts_on is None:
            errors["starts_on"] = "A date, such as 2026-12-24."
        if ends_on is None:
            errors["ends_on"] = "A date, such as 2026-12-31."
        if not errors and delegate is not None and starts_on is not None and ends_on is not None:
            try:
                engine.delegation_create(delegator=request.user, delegate=delegate, starts_on=starts_on,
                                         ends_on=ends_on, note=form["note"][:300], actor=request.user)
            except DomainError as refused:
                errors["form"] = refused.message
                for field, problems in refused.detail.items():
                    if isinstance(problems, list) and problems:
                        errors[field] = str(problems[0])
            else:
                messages.success(request, f"{delegate.username} may now decide your approvals on those dates.")
                return redirect("governance:approval-delegations")
    delegations = engine.delegations_visible_to(request.user).order_by("-starts_on", "-id")
    today = timezone.localdate()
    return render(request, "governance/approvals/delegations.html", {
        "delegations": delegations, "today": today, "errors": errors, "form": form, "may_delegate": may_delegate,
    }, status=400 if errors else 200)


class DelegationRevokeView(ConfirmStepView[Delegation]):
    """Revoke a delegation of approvals through the confirm step (``erp.confirm``): only the delegations the
    user may see are found; the service refuses anyone but the delegator or an administrator."""

    permission_required = VIEW_PERMISSION
    button_label = "Revoke the delegation"
    back_label = "Keep the delegation"

    def get_target(self, pk: int) -> Delegation:
        delegation = (engine.delegations_visible_to(self.request.user).select_related("delegator", "delegate")
                      .filter(pk=pk).first())
        if delegation is None:
            raise Http404("No such delegation.")
        return delegation

    def question(self, target: Delegation) -> str:
        return f"Revoke the delegation from {target.delegator.username} to {target.delegate.username}?"

    def undoes(self, target: Delegation) -> list[str]:
        return [f"{target.delegate.username} stops deciding {target.delegator.username}'s approvals now "
                f"(it was to run {target.starts_on} to {target.ends_on}).",
                "A revoked delegation cannot be resumed: a new one must be given."]

    def back_url(self, target: Delegation) -> str:
        return reverse("governance:approval-delegations")

    def perform(self, target: Delegation, reason: str) -> str:
        engine.delegation_revoke(delegation=target, actor=self.request.user)
        return "Delegation revoked."


urlpatterns = [
    path("", approval_list, name="approval-list"),
    path("<int:pk>/", approval_detail, name="approval-detail"),
    path("<int:pk>/decide/", approval_decide, name="approval-decide"),
    path("delegations/", delegation_list, name="approval-delegations"),
    path("delegations/<int:pk>/revoke/", DelegationRevokeView.as_view(), name="approval-delegation-revoke"),
]
