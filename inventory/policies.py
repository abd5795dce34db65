"""Policies of inventory control: count tolerances and count frequency."""

from decimal import Decimal

from erp.policies import NumberByKey, PolicySpec, Tolerance

POLICIES = [
    PolicySpec(
        "inventory.count_variance_tolerance",
        "A count or adjustment posts at once when its variance is within both the quantity percentage and the "
        "value (legal entity currency); beyond either it needs approval.",
        Tolerance(), {"quantity_pct": "2.00", "value": "250.00"}, "inventory",
    ),
    PolicySpec(
        "inventory.cycle_count_frequency",
        "Days between counts of a location-item pair, per ABC class.",
        NumberByKey(keys=("A", "B", "C"), minimum=Decimal(1), maximum=Decimal(730), places=0, unit="days"),
        {"A": "30", "B": "90", "C": "180"}, "inventory",
    ),
]
