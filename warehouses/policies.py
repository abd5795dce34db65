"""Policies of warehouse operations: transfers between warehouses."""

from decimal import Decimal

from erp.policies import DecimalValue, PolicySpec

POLICIES = [
    PolicySpec(
        "transfers.approval_threshold",
        "Transfers valued above this amount (legal entity currency) need approval before dispatch.",
        DecimalValue(minimum=Decimal(0), maximum=Decimal("100000000"), places=2, unit="currency"),
        "10000.00", "warehouse_operations",
    ),
]
