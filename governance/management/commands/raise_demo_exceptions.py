"""``manage.py raise_demo_exceptions``: see governance.demo (``load_demo`` runs it too)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from governance.demo import raise_demo_exceptions


class Command(BaseCommand):
    help = "Raise a realistic handful of exceptions across the demo network (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"demo exceptions raised: {raise_demo_exceptions()}")
