"""Platform writes: role groups, scope grants and API tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission, User
from django.db.models import Model, Q
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from erp.actors import Actor
from erp.exceptions import NotFound
from erp.models import ApiToken, IdempotencyKey
from erp.roles import ROLE_BY_KEY, ROLES
from erp.scoping import ENTERPRISE_PERMISSION, REGION_PERMISSION, WAREHOUSE_PERMISSION, forget_scope
from erp.transactions import command


def _permissions(dotted: Iterable[str]) -> list[Permission]:
    wanted = {tuple(name.split(".", 1)) for name in dotted}
    query = Q()
    for app_label, codename in wanted:
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query).select_related("content_type")) if wanted else []
    missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        raise LookupError(f"roles name unknown permissions: {sorted(missing)}")
    return found


@command
def roles_sync(*, actor: Actor = None) -> list[Group]:
    """Make each role's group hold exactly the permissions of ``erp.roles.ROLES``."""
    groups = []
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.group)
        group.permissions.set(_permissions(role.permissions))
        groups.append(group)
    return groups


@command
def user_upsert(*, username: str, actor: Actor, email: str = "", first_name: str = "",
                is_superuser: bool = False, is_staff: bool = False, password: str | None = None,
                roles: Iterable[str] = ()) -> User:
    """Create or update a user with exactly the role groups named (keys of ``erp.roles``).

    ``password`` is set only when given, so updating a user keeps the password they chose.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        user = get_user_model()(username=username, email=email)
    if password is not None:
        user.set_password(password)
    user.first_name, user.is_superuser, user.is_staff = first_name, is_superuser, is_staff
    user.save()
    user.groups.set(Group.objects.filter(name__in=[ROLE_BY_KEY[key].group for key in roles]))
    return user


@command
def scope_grant(*, user: User, actor: Actor, enterprise: bool = False,
                regions: Iterable[Model] = (), warehouses: Iterable[Model] = ()) -> None:
    """Give ``user`` the enterprise scope, or access to the given regions and warehouses."""
    if enterprise:
        app_label, codename = ENTERPRISE_PERMISSION.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    for region in regions:
        assign_perm(f"warehouses.{REGION_PERMISSION}", user, region)
    for warehouse in warehouses:
        assign_perm(f"warehouses.{WAREHOUSE_PERMISSION}", user, warehouse)
    forget_scope(user)


@command
def scope_revoke(*, user: User, actor: Actor, regions: Iterable[Model] = (),
                 warehouses: Iterable[Model] = ()) -> None:
    for region in regions:
        remove_perm(f"warehouses.{REGION_PERMISSION}", user, region)
    for warehouse in warehouses:
        remove_perm(f"warehouses.{WAREHOUSE_PERMISSION}", user, warehouse)
    forget_scope(user)


@command
def api_token_issue(*, user: User, name: str = "", actor: Actor) -> str:
    """Create a token for ``user`` and return it in plain text; only its digest is stored."""
    raw = ApiToken.generate()
    ApiToken.objects.create(
        user=user, name=name[:100], digest=ApiToken.digest_of(raw), prefix=raw[:8],
        expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS),
    )
    return raw


@command
def api_token_revoke(*, token_id: int, actor: Actor) -> ApiToken:
    """Revoke a token; users revoke their own, superusers any."""
    query = ApiToken.objects.select_for_update().filter(pk=token_id)
    if not getattr(actor, "is_superuser", False):
        query = query.filter(user=actor) if isinstance(actor, User) else query.none()
    token = query.first()
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@command
def idempotency_keys_purge(*, older_than: timedelta, actor: Actor = None) -> int:
    """Forget stored responses older than ``older_than``; a key may then be used afresh."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
