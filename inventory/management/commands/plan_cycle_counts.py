"""Plan cycle counts now, as Celery beat does every hour: ``manage.py plan_cycle_counts [--warehouse W] [--date D]``."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from inventory.services.counts import cycle_count_plan
from warehouses.models import Warehouse


class Command(BaseCommand):
    help = "Make the planned cycle count of each active warehouse (or one) for its local date (or --date)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--warehouse", help="a warehouse code; default every active warehouse")
        parser.add_argument("--date", type=dt.date.fromisoformat, help="YYYY-MM-DD; default each warehouse's today")

    def handle(self, *args: Any, **options: Any) -> None:
        warehouses = Warehouse.objects.filter(active=True).select_related("legal_entity", "region").order_by("code")
        if options["warehouse"]:
            warehouses = warehouses.filter(code=options["warehouse"])
            if not warehouses.exists():
                raise CommandError(f"No active warehouse {options['warehouse']}.")
        for warehouse in warehouses:
            on = options["date"] or timezone.now().astimezone(ZoneInfo(warehouse.timezone)).date()
            count = cycle_count_plan(warehouse=warehouse, on=on, actor=None)
            if count is None:
                self.stdout.write(f"{warehouse.code} {on}: nothing due")
            else:
                lines = count.lines.count()
                self.stdout.write(f"{warehouse.code} {on}: {count.number} ({lines} lines, {count.status})")
