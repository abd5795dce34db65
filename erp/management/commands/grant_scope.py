from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from erp import services
from erp.exceptions import DomainError
from erp.roles import ROLE_BY_KEY
from erp.selectors import ScopeSpec, user_access


class Command(BaseCommand):
    help = ("Grant a user roles and a scope, replacing what they had (or, with --revoke, take the roles and the "
            "scope named away and keep the rest). The user is created (without a usable password) when new. "
            "With --as the grant is made as that administrator, inside their scope; without it as the system. "
            "Every change is on the audit trail.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--roles", nargs="+", default=None, metavar="ROLE",
                            help=f"role keys: {', '.join(ROLE_BY_KEY)}")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--enterprise", action="store_true", help="the whole enterprise")
        where.add_argument("--regions", nargs="+", metavar="CODE", help="region codes, such as NE")
        where.add_argument("--warehouses", nargs="+", metavar="CODE", help="warehouse codes, such as NE-BOS")
        parser.add_argument("--revoke", action="store_true", help="take the roles and scope named away")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME", help="the administrator granting")

    def handle(self, *args: Any, username: str, roles: list[str] | None, enterprise: bool,
               regions: list[str] | None, warehouses: list[str] | None, revoke: bool, as_user: str | None,
               **options: Any) -> None:
        scope = (ScopeSpec("enterprise") if enterprise else ScopeSpec("regions", regions=tuple(regions))
                 if regions else ScopeSpec("warehouses", warehouses=tuple(warehouses)) if warehouses else None)
        if roles is None and scope is None:
            raise CommandError("Name --roles, a scope (--enterprise, --regions or --warehouses), or both.")
        actor = None
        if as_user is not None:
            actor = get_user_model().objects.filter(username=as_user, is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user {as_user!r}.")
        exists = get_user_model().objects.filter(username=username).exists()
        try:
            if revoke:
                user = services.user_access_revoke(username=username, actor=actor, roles=roles or (), scope=scope)
            else:
                user = services.user_access_set(username=username, actor=actor, create=not exists, roles=roles,
                                                scope=scope)
        except DomainError as exc:
            details = "; ".join(f"{field}: {' '.join(map(str, problems if isinstance(problems, list) else [problems]))}"
                                for field, problems in (exc.detail or {}).items())
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        access = user_access([user])[user.pk]
        self.stdout.write(f"{user.username}: roles {', '.join(access.roles) or 'none'}; "
                          f"scope {access.scope.label()}")
