"""Policies of warehouse operations: transfers between warehouses."""

from decimal import Decimal

from erp.policies import Boolean, DecimalValue, PolicySpec

POLICIES = [
    PolicySpec(
        "transfers.approval_threshold",
        "Transfers valued above this amount (legal entity currency) need approval before dispatch.",
        DecimalValue(minimum=Decimal(0), maximum=Decimal("100000000"), places=2, unit="currency"),
        "10000.00", "warehouse_operations",
    ),
    PolicySpec(
        "transfers.cross_region_allowed",
        "Whether a warehouse may be supplied by transfers from another region (network transfer recommendations "
        "cross regions only into a warehouse where this holds). Customer orders crossing regions are "
        "fulfillment.cross_region_allowed's.",
        Boolean(), True, "warehouse_operations",
    ),
]
