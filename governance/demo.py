"""Demo exceptions across the demo network, so the planner's dashboard is not empty on ``make run``.

Idempotent by business key: an exception already raised under a key (in any status) is left alone,
so running it again (every ``make run`` loads the demo) neither duplicates nor re-raises anything.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from governance.models import OperationalException
from governance.services.exceptions import exception_raise_command
from warehouses.models import Warehouse

# (type, business key, warehouse, title, reference, detail, hours ago it was observed)
# type, business key, warehouse, title, reference, detail, hours ago
DEMO_EXCEPTIONS: list[tuple[str, str, str, str, str, dict[str, object], int]] = [
    ("shortage", "demo:shortage:NE-BOS:BEV-0001", "NE-BOS", "Short pick of BEV-0001 for C-NE-001",
     "C-NE-001", {"sku": "BEV-0001", "ordered": "48", "available": "30"}, 1),
    ("shortage", "demo:shortage:SE-ATL:BEV-0003", "SE-ATL", "Not enough BEV-0003 to allocate C-SE-002",
     "C-SE-002", {"sku": "BEV-0003", "ordered": "120", "available": "75"}, 2),
    # Observed long ago: already past its SLA, so the first escalation run moves it up the ladder.
    ("shortage", "demo:shortage:NE-NYC:BEV-0002", "NE-NYC", "Stock-out of BEV-0002 blocks three orders",
     "", {"sku": "BEV-0002", "orders": 3}, 30),
    ("damaged_goods", "demo:damaged:EU-RTM:RCV-0001", "EU-RTM", "Two damaged pallets on inbound from ACME",
     "ACME", {"pallets": 2}, 3),
    ("late_receipt", "demo:late:SE-MIA:ACME", "SE-MIA", "Inbound from ACME two days late", "ACME",
     {"supplier": "ACME", "days_late": 2}, 5),
    ("count_variance", "demo:count:EU-DUS:A-01-02", "EU-DUS", "Cycle count variance at A-01-02", "A-01-02",
     {"location": "A-01-02", "variance": "-6"}, 4),
    ("promise_at_risk", "demo:promise:NE-BOS:C-NE-002", "NE-BOS", "Delivery promise to C-NE-002 at risk",
     "C-NE-002", {"customer": "C-NE-002"}, 1),
]


def raise_demo_exceptions() -> int:
    """Raise the demo exceptions not raised yet; return how many were raised now."""
    warehouses = {w.code: w for w in Warehouse.objects.select_related("region")}
    existing = set(OperationalException.objects.filter(
        business_key__in=[row[1] for row in DEMO_EXCEPTIONS]).values_list("type", "business_key"))
    raised = 0
    now = timezone.now()
    for type_code, key, site, title, reference, detail, hours_ago in DEMO_EXCEPTIONS:
        if (type_code, key) in existing or site not in warehouses:
            continue
        exception_raise_command(type=type_code, business_key=key, title=title, warehouse=warehouses[site],
                                reference=reference, detail=detail, raised_at=now - timedelta(hours=hours_ago),
                                actor=None)
        raised += 1
    return raised
