"""Verify the stock invariants over the whole database; exit non-zero on any violation.

I2: every balance equals the sum of its moves (and no moves lack a balance).
Summaries equal the sums of their balances (on hand, allocatable, blocked).
I3: nothing negative; ``0 <= allocated <= allocatable_on_hand`` on every summary.
Read-only: it reports, it never repairs.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

CHECKS = [
    (
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
    (
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
    (
        "balance in another warehouse than its location",
        """
        SELECT b.id, b.warehouse_id, l.warehouse_id FROM inventory_stockbalance b
        JOIN warehouses_location l ON l.id = b.location_id WHERE l.warehouse_id <> b.warehouse_id
        """,
        "balance {0}: warehouse {1}, location in warehouse {2}",
    ),
    (
        "negative balance",
        "SELECT id, item_id, location_id, on_hand FROM inventory_stockbalance WHERE on_hand < 0",
        "balance {0} (item {1}, location {2}): on hand {3}",
    ),
    (
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


class Command(BaseCommand):
    help = "Check that balances equal their moves and summaries their balances, and nothing is negative (I2, I3)."

    def handle(self, *args: Any, **options: Any) -> None:
        violations = 0
        with connection.cursor() as cursor:
            for title, sql, line in CHECKS:
                cursor.execute(sql)
                for row in cursor.fetchall():
                    violations += 1
                    self.stderr.write(f"{title}: {line.format(*row)}")
        if violations:
            raise CommandError(f"{violations} inventory invariant violation(s).")
        self.stdout.write(self.style.SUCCESS("Inventory invariants hold."))
