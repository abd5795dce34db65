from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from erp.tasks import heartbeat_age


class Command(BaseCommand):
    help = "Exit non-zero unless Celery beat's heartbeat ran recently (the beat container's health check)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--max-age", type=float, default=120.0, help="seconds (default 120)")

    def handle(self, *args: Any, max_age: float, **options: Any) -> None:
        age = heartbeat_age()
        if age is None:
            raise CommandError("no beat heartbeat recorded yet")
        if age > max_age:
            raise CommandError(f"last beat heartbeat {age:.0f}s ago (limit {max_age:.0f}s)")
        self.stdout.write(f"beat heartbeat {age:.0f}s ago")
