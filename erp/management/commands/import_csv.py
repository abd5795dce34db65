from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from erp.csv_exchange import import_csv, kinds
from erp.exceptions import DomainError


class Command(BaseCommand):
    help = ("Import a CSV file of one kind of master data as a user (their role and scope apply). Prints one line "
            "per created, updated or failed row; exits with status 1 and writes nothing when any row or the file "
            "has an error. --dry-run reports what would happen and writes nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=kinds())
        parser.add_argument("file", help="path of the CSV file, or - for standard input")
        parser.add_argument("--user", required=True, help="username whose permissions and scope apply")
        parser.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
        parser.add_argument("--verbose-rows", action="store_true", help="also list unchanged rows")

    def handle(self, *args: Any, kind: str, file: str, user: str, dry_run: bool, verbose_rows: bool,
               **options: Any) -> None:
        actor = get_user_model().objects.filter(username=user, is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {user!r}.")
        try:
            content = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            report = import_csv(kind, content, actor, dry_run=dry_run)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(report.to_text(include_unchanged=verbose_rows), ending="")
        if not report.ok:
            raise CommandError(report.summary(), returncode=1)
