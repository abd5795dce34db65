from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from erp import demo


class Command(BaseCommand):
    help = "Load (or refresh) the demo network of product.md. Safe to run again: nothing is duplicated."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = demo.load(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("demo network ready: " + ", ".join(f"{k}={v}" for k, v in counts.items())))
