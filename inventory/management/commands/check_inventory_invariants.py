"""Verify the stock and cycle-count invariants over the whole database; exit non-zero on any violation.

I2: every balance equals the sum of its moves (and no moves lack a balance).
Summaries equal the sums of their balances (on hand, allocatable, blocked).
I3: nothing negative; ``0 <= allocated <= allocatable_on_hand`` on every summary.
Cycle counts: a posted line with a variance has exactly its ledger move (the variance, referencing the
count), nothing else posts as a count; every line's state fits its count's status (blind lines of an open
count are pending or counted, a posted count has nothing left waiting); a count and its approval request
agree (waiting with a pending request, posted when approved, rejected when rejected, recounted when
cancelled).
Documents of the apps above inventory add their own checks (``inventory.invariants.register_probes``): transfers
hold that what left the source is in transit, received or written off, in quantity and at cost.
Read-only: it reports, it never repairs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from inventory.invariants import registered_probes
from inventory.models import CycleCountLineState as Line
from inventory.models import CycleCountStatus as Count


class Check(NamedTuple):
    title: str
    sql: str
    line: str
    params: dict[str, Any] | None = None


# The reference type (ledger) and document type (approval engine) of a cycle count.
COUNT_TYPE = "cycle_count"

# The line states each count status allows: submitting judges every counted line (posted at once or
# waiting for approval); the decision moves the waiting lines (posted, rejected or sent to recount);
# cancelling an open count cancels all its lines. ``inventory.rules.CYCLE_COUNT_TRANSITIONS`` moves counts.
LINE_STATES_OF_COUNT: dict[str, tuple[str, ...]] = {
    Count.OPEN: (Line.PENDING, Line.COUNTED),
    Count.PENDING_APPROVAL: (Line.POSTED, Line.PENDING_APPROVAL),
    Count.POSTED: (Line.POSTED,),
    Count.REJECTED: (Line.POSTED, Line.REJECTED),
    Count.RECOUNTED: (Line.POSTED, Line.RECOUNT),
    Count.CANCELLED: (Line.CANCELLED,),
}
# The approval request status that goes with each decided count status.
REQUEST_STATUS_OF_COUNT = {Count.POSTED: "approved", Count.REJECTED: "rejected", Count.RECOUNTED: "cancelled"}


STOCK_CHECKS = [
    Check(
        "balance differs from the sum of its moves",
        """
        SELECT coalesce(b.item_id, m.item_id), coalesce(b.location_id, m.location_id),
               coalesce(b.lot_id, m.lot_id), coalesce(b.status_id, m.status_id),
               coalesce(b.on_hand, 0), coalesce(m.total, 0)
        FROM inventory_stockbalance b
        FULL OUTER JOIN (
            SELECT item_id, location_id, lot_id, status_id, sum(quantity) AS total
            FROM inventory_stockmove GROUP BY item_id, location_id, lot_id, status_id
        ) m ON b.item_id = m.item_id AND b.location_id = m.location_id
           AND b.lot_id IS NOT DISTINCT FROM m.lot_id AND b.status_id = m.status_id
        WHERE coalesce(b.on_hand, 0) <> coalesce(m.total, 0)
        """,
        "item {0} location {1} lot {2} status {3}: balance {4}, moves sum to {5}",
    ),
    Check(
        "summary differs from the sum of its balances",
        """
        SELECT coalesce(s.item_id, b.item_id), coalesce(s.warehouse_id, b.warehouse_id),
               coalesce(s.on_hand, 0), coalesce(b.on_hand, 0),
               coalesce(s.allocatable_on_hand, 0), coalesce(b.allocatable, 0),
               coalesce(s.blocked, 0), coalesce(b.blocked, 0)
        FROM inventory_itemwarehousesummary s
        FULL OUTER JOIN (
            SELECT bal.item_id, bal.warehouse_id, sum(bal.on_hand) AS on_hand,
                   sum(bal.on_hand) FILTER (WHERE st.allocatable) AS allocatable,
                   sum(bal.on_hand) FILTER (WHERE NOT st.counts_toward_available) AS blocked
            FROM inventory_stockbalance bal JOIN inventory_stockstatus st ON st.id = bal.status_id
            GROUP BY bal.item_id, bal.warehouse_id
        ) b ON s.item_id = b.item_id AND s.warehouse_id = b.warehouse_id
        WHERE coalesce(s.on_hand, 0) <> coalesce(b.on_hand, 0)
           OR coalesce(s.allocatable_on_hand, 0) <> coalesce(b.allocatable, 0)
           OR coalesce(s.blocked, 0) <> coalesce(b.blocked, 0)
        """,
        "item {0} warehouse {1}: summary on hand {2} / allocatable {4} / blocked {6}, "
        "balances {3} / {5} / {7}",
    ),
    Check(
        "balance in another warehouse than its location",
        """
        SELECT b.id, b.warehouse_id, l.warehouse_id FROM inventory_stockbalance b
        JOIN warehouses_location l ON l.id = b.location_id WHERE l.warehouse_id <> b.warehouse_id
        """,
        "balance {0}: warehouse {1}, location in warehouse {2}",
    ),
    Check(
        "negative balance",
        "SELECT id, item_id, location_id, on_hand FROM inventory_stockbalance WHERE on_hand < 0",
        "balance {0} (item {1}, location {2}): on hand {3}",
    ),
    Check(
        "summary negative or allocated outside 0..allocatable on hand",
        """
        SELECT item_id, warehouse_id, on_hand, allocatable_on_hand, blocked, allocated
        FROM inventory_itemwarehousesummary
        WHERE on_hand < 0 OR allocatable_on_hand < 0 OR blocked < 0 OR allocated < 0
           OR allocated > allocatable_on_hand
        """,
        "item {0} warehouse {1}: on hand {2}, allocatable {3}, blocked {4}, allocated {5}",
    ),
]

COUNT_CHECKS = [
    Check(
        "posted count line without its ledger move",
        """
        SELECT c.number, l.line_no, l.variance,
               coalesce('move ' || m.id || ' of ' || m.quantity || ' referencing ' || m.reference_type || ' '
                        || m.reference_id, 'no move')
        FROM inventory_cyclecountline l
        JOIN inventory_cyclecount c ON c.id = l.count_id
        LEFT JOIN inventory_stockmove m ON m.id = l.move_id
        WHERE l.state = %(posted)s AND (l.variance IS NULL OR (l.variance <> 0 AND (
            m.id IS NULL OR m.quantity <> l.variance OR m.reference_type <> %(type)s
            OR m.reference_id <> l.count_id::text OR m.item_id <> l.item_id OR m.location_id <> l.location_id
            OR m.lot_id IS DISTINCT FROM l.lot_id)))
        ORDER BY c.id, l.line_no
        """,
        "{0} line {1}: variance {2}, {3}",
        {"posted": Line.POSTED.value, "type": COUNT_TYPE},
    ),
    Check(
        "count line with a ledger move it should not have",
        """
        SELECT c.number, l.line_no, l.state, l.variance, l.move_id
        FROM inventory_cyclecountline l JOIN inventory_cyclecount c ON c.id = l.count_id
        WHERE l.move_id IS NOT NULL AND (l.state <> %(posted)s OR coalesce(l.variance, 0) = 0)
        ORDER BY c.id, l.line_no
        """,
        "{0} line {1} ({2}, variance {3}) has move {4}",
        {"posted": Line.POSTED.value},
    ),
    Check(
        "count move not on a posted line of its count",
        """
        SELECT m.id, m.reference, m.quantity FROM inventory_stockmove m
        WHERE m.reference_type = %(type)s AND NOT EXISTS (
            SELECT 1 FROM inventory_cyclecountline l
            WHERE l.move_id = m.id AND l.state = %(posted)s AND l.count_id::text = m.reference_id)
        ORDER BY m.id
        """,
        "move {0} ({1}) of {2}",
        {"posted": Line.POSTED.value, "type": COUNT_TYPE},
    ),
    Check(
        "count line in a state its count's status does not allow",
        """
        SELECT c.number, c.status, l.line_no, l.state
        FROM inventory_cyclecountline l JOIN inventory_cyclecount c ON c.id = l.count_id
        WHERE c.status || '/' || l.state <> ALL(%(allowed)s)
        ORDER BY c.id, l.line_no
        """,
        "{0} is {1}, its line {2} is {3}",
        {"allowed": [f"{status}/{state}" for status, states in LINE_STATES_OF_COUNT.items() for state in states]},
    ),
    Check(
        "count waiting for approval without a pending approval request",
        """
        SELECT c.number, coalesce('approval request ' || r.id || ' (' || r.document_type || ' '
                                  || r.document_id || ') is ' || r.status, 'no approval request')
        FROM inventory_cyclecount c LEFT JOIN governance_approvalrequest r ON r.id = c.approval_request_id
        WHERE c.status = %(waiting)s AND (r.id IS NULL OR r.status <> 'pending' OR r.document_type <> %(type)s
                                          OR r.document_id <> c.id)
        ORDER BY c.id
        """,
        "{0}: {1}",
        {"waiting": Count.PENDING_APPROVAL.value, "type": COUNT_TYPE},
    ),
    Check(
        "count decided otherwise than its approval request",
        """
        SELECT c.number, c.status, r.id, r.document_type, r.document_id, r.status
        FROM inventory_cyclecount c JOIN governance_approvalrequest r ON r.id = c.approval_request_id
        WHERE c.status <> %(waiting)s AND (r.document_type <> %(type)s OR r.document_id <> c.id
                                           OR c.status || '/' || r.status <> ALL(%(agreeing)s))
        ORDER BY c.id
        """,
        "{0} is {1}; approval request {2} ({3} {4}) is {5}",
        {"waiting": Count.PENDING_APPROVAL.value, "type": COUNT_TYPE,
         "agreeing": [f"{count}/{request}" for count, request in REQUEST_STATUS_OF_COUNT.items()]},
    ),
    Check(
        "pending count approval whose count is not waiting for it",
        """
        SELECT r.id, r.document_id, coalesce(c.number || ' is ' || c.status, 'no such count')
        FROM governance_approvalrequest r LEFT JOIN inventory_cyclecount c ON c.id = r.document_id
        WHERE r.document_type = %(type)s AND r.status = 'pending'
          AND (c.id IS NULL OR c.status <> %(waiting)s OR c.approval_request_id IS DISTINCT FROM r.id)
        ORDER BY r.id
        """,
        "approval request {0} for count {1}: {2}",
        {"waiting": Count.PENDING_APPROVAL.value, "type": COUNT_TYPE},
    ),
]

CHECKS = STOCK_CHECKS + COUNT_CHECKS


class Command(BaseCommand):
    help = ("Check that balances equal their moves and summaries their balances, nothing is negative (I2, I3), "
            "and cycle counts agree with the ledger, their lines and their approvals.")

    def handle(self, *args: Any, **options: Any) -> None:
        violations = 0
        with connection.cursor() as cursor:
            for check in CHECKS:
                cursor.execute(check.sql, check.params)
                for row in cursor.fetchall():
                    violations += 1
                    self.stderr.write(f"{check.title}: {check.line.format(*row)}")
        for probe in registered_probes():
            for line in probe.run():
                violations += 1
                self.stderr.write(f"{probe.title}: {line}")
        if violations:
            raise CommandError(f"{violations} inventory invariant violation(s).")
        self.stdout.write(self.style.SUCCESS("Inventory invariants hold."))
