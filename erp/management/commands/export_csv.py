from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from erp.csv_exchange import export_csv, kinds
from erp.exceptions import DomainError


class Command(BaseCommand):
    help = ("Write the rows of one kind of master data as CSV to standard output, in the layout import_csv reads. "
            "With --user the export is narrowed to that user's scope and needs their view permission; without it "
            "the whole enterprise is exported (whoever runs manage.py already holds the database credentials).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=kinds())
        parser.add_argument("--user", help="username whose scope and permissions apply")

    def handle(self, *args: Any, kind: str, user: str | None, **options: Any) -> None:
        User = get_user_model()
        if user is None:
            actor = User(username="manage.py", is_active=True, is_superuser=True)  # never saved
        else:
            found = User.objects.filter(username=user, is_active=True).first()
            if found is None:
                raise CommandError(f"No active user {user!r}.")
            actor = found
        try:
            self.stdout.write(export_csv(kind, actor), ending="")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
