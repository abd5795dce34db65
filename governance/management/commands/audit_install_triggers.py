"""``manage.py audit_install_triggers``: attach the audit triggers to every audited table (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS

from governance.audit import install_triggers


class Command(BaseCommand):
    help = "Attach the audit triggers to every audited table (migrate does this too)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database alias to install into.")

    def handle(self, *args: Any, **options: Any) -> None:
        installed = install_triggers(using=options["database"])
        if not installed:
            self.stderr.write("The audit trigger functions do not exist yet: run migrate first.")
            return
        if options["verbosity"] > 1:
            for table in installed:
                self.stdout.write(f"  {table}")
        self.stdout.write(self.style.SUCCESS(f"Audit triggers installed on {len(installed)} tables."))
