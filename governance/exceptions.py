"""Domain errors of the governance app. Each area keeps its own section."""

from __future__ import annotations

from erp.exceptions import Conflict, NotFound, PermissionDenied

# --- Exception queues -------------------------------------------------------------------------


class InvalidTransition(Conflict):
    """A document (here an operational exception) cannot move from its status to the one asked for."""

    code = "invalid_transition"
    default_message = "This move is not allowed from the current status."


# --- approvals ----------------------------------------------------------------------------------


class SelfApprovalForbidden(Conflict):
    """Segregation of duties: nobody decides a step of their own request, nor has a delegate do it."""

    code = "self_approval_forbidden"
    default_message = "You requested this; someone else must decide it."


class NotAnApprover(PermissionDenied):
    code = "not_an_approver"
    default_message = "You are not an approver of this step (nor a delegate of one)."


class ApprovalAlreadyDecided(Conflict):
    code = "approval_already_decided"
    default_message = "This approval has already been decided."


class StepNotCurrent(Conflict):
    code = "step_not_current"
    default_message = "This step is not the one waiting for a decision."


class ApprovalAlreadyOpen(Conflict):
    code = "approval_already_open"
    default_message = "This document already has a pending approval request."


class NoApprovalRule(Conflict):
    code = "no_approval_rule"
    default_message = "No approval rule matches this document."


class MissingExchangeRate(Conflict):
    code = "missing_exchange_rate"
    default_message = "No exchange rate is known for this currency pair on this date."


class UnknownDocumentType(Conflict):
    code = "unknown_document_type"
    default_message = "This document type is not registered with the approval engine."


class DelegationOverlaps(Conflict):
    code = "delegation_overlaps"
    default_message = "An active delegation between these two users already covers some of these dates."


class DelegationRevoked(Conflict):
    code = "delegation_revoked"
    default_message = "This delegation is already revoked."



# --- Policies and deviations ------------------------------------------------------------------


class UnknownPolicy(NotFound):
    code = "unknown_policy"
    default_message = "No policy has this key."


class PolicyNotLocalizable(Conflict):
    code = "policy_not_localizable"
    default_message = "This policy holds one enterprise standard; no local deviation may be requested."


class DeviationOverlap(Conflict):
    code = "deviation_overlap"
    default_message = "An approved deviation of this policy already covers part of these dates at this site."


class NotDeviationRequester(PermissionDenied):
    code = "permission_denied"
    default_message = "Only the requester or a process owner may withdraw this deviation."
