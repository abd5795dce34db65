from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from erp import demo


class Command(BaseCommand):
    help = "Load (or refresh) the demo network of product.md. Safe to run again: nothing is duplicated."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--reset-passwords", action="store_true",
                            help="set every demo user's password to DEMO_PASSWORD again")

    def handle(self, *args: Any, reset_passwords: bool = False, **options: Any) -> None:
        counts = demo.load(stdout=self.stdout, reset_passwords=reset_passwords)
        self.stdout.write(self.style.SUCCESS("demo network ready: " + ", ".join(f"{k}={v}" for k, v in counts.items())))
