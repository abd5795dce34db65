"""Policies of procure to pay: approvals, receiving tolerance, replenishment."""

from decimal import Decimal

from erp.policies import ApprovalMatrix, Boolean, Choice, CodeByKey, DecimalValue, PolicySpec
from erp.roles import ROLE_BY_KEY

POLICIES = [
    PolicySpec(
        "procurement.approval_matrix",
        "Who approves a purchase order, by amount in the legal entity's currency.",
        ApprovalMatrix(roles=tuple(ROLE_BY_KEY)),
        [
            {"up_to": "5000.00", "steps": ["buyer"]},
            {"up_to": "50000.00", "steps": ["buyer", "approver"]},
            {"up_to": None, "steps": ["buyer", "approver", "finance"]},
        ],
        "procure_to_pay",
    ),
    PolicySpec(
        "procurement.over_receipt_tolerance",
        "How far a receipt may exceed the ordered quantity, in percent, before it is refused.",
        DecimalValue(minimum=Decimal(0), maximum=Decimal(100), places=2, unit="%"), "5.00", "procure_to_pay",
    ),
    PolicySpec(
        "procurement.inspection_required",
        "Whether goods received from suppliers land in quality hold for inspection instead of available.",
        Boolean(), False, "procure_to_pay",
    ),
    PolicySpec(
        "replenishment.method",
        "How replenishment proposals are computed: reorder point or min/max.",
        Choice(options=("reorder_point", "min_max")), "min_max", "procure_to_pay",
    ),
    PolicySpec(
        "procurement.preferred_suppliers",
        "The supplier to buy a SKU from where it is not the network's preferred one: supplier code by SKU. A region "
        "or warehouse names its own; a code that names no active supplier selling the SKU falls back to the "
        "preferred one.",
        CodeByKey(), {}, "procure_to_pay",
    ),
]
