"""Policies governance owns itself: exception SLAs and deviation review notice."""

from decimal import Decimal

from erp.policies import Integer, NumberByKey, PolicySpec
from governance.rules import EXCEPTION_KINDS

POLICIES = [
    PolicySpec(
        "exceptions.sla",
        "Hours an exception may stay open before it escalates, per exception type.",
        NumberByKey(keys=tuple(EXCEPTION_KINDS), minimum=Decimal("0.25"), maximum=Decimal(720), places=2,
                    unit="hours"),
        {"shortage": "4", "late_receipt": "24", "damaged_goods": "8", "transfer_discrepancy": "24",
         "count_variance": "48", "promise_at_risk": "4", "anomaly": "24", "deviation_expiring": "72"},
        "governance",
    ),
    PolicySpec(
        "governance.deviation_review_notice_days",
        "Days before a deviation expires that its policy's process owner is asked to review it.",
        Integer(minimum=1, maximum=90, unit="days"), 14, "governance", localizable=False,
    ),
]
