"""Platform writes: role groups, scope grants and API tokens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission, User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Model, Q
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from erp.actors import Actor, acting_user
from erp.exceptions import NotFound, OutsideScope, PermissionDenied, UserExists, ValidationFailed
from erp.models import ApiToken, IdempotencyKey
from erp.roles import ROLE_BY_KEY, ROLES
from erp.scoping import ENTERPRISE_PERMISSION, REGION_PERMISSION, WAREHOUSE_PERMISSION, forget_scope, scope_of
from erp.selectors import SCOPE_TYPES, ScopeSpec, may_manage_users, user_access, users_administered_by
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


# --- user administration ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grants:
    enterprise: bool
    regions: frozenset[Any]  # warehouses.Region (the shared base names no app's model)
    warehouses: frozenset[Any]  # warehouses.Warehouse


def _network_models() -> tuple[Any, Any]:
    return apps.get_model("warehouses", "Region"), apps.get_model("warehouses", "Warehouse")


def _resolve_scope(scope: ScopeSpec, actor: Actor) -> _Grants:
    """The regions and warehouses ``scope`` names, refused (400) when unknown and (403) when beyond the
    scope of ``actor`` (``None``, the system, may grant anything)."""
    Region, Warehouse = _network_models()

    if scope.type not in SCOPE_TYPES:
        raise ValidationFailed(detail={"scope": [f"Give a type of {', '.join(SCOPE_TYPES)}."]})
    wanted = {"enterprise": ((), ()), "regions": (scope.regions, ()), "warehouses": ((), scope.warehouses)}
    region_codes, warehouse_codes = wanted[scope.type]
    if scope.type != "enterprise" and not (region_codes or warehouse_codes):
        raise ValidationFailed(detail={"scope": [f"Name at least one of the {scope.type} to grant."]})
    if (scope.type == "regions" and scope.warehouses) or (scope.type == "warehouses" and scope.regions) or (
            scope.type == "enterprise" and (scope.regions or scope.warehouses)):
        raise ValidationFailed(detail={"scope": [f"A scope of type {scope.type} names only its own kind."]})
    regions = {r.code: r for r in Region.objects.filter(code__in=region_codes)}
    warehouses = {w.code: w for w in Warehouse.objects.filter(code__in=warehouse_codes)}
    unknown = {"regions": sorted(set(region_codes) - set(regions)),
               "warehouses": sorted(set(warehouse_codes) - set(warehouses))}
    if unknown["regions"] or unknown["warehouses"]:
        raise ValidationFailed(
            "The scope names an unknown region or warehouse.",
            detail={"scope": [f"Unknown {kind[:-1]} {code}." for kind, codes in unknown.items() for code in codes]})
    grants = _Grants(scope.type == "enterprise", frozenset(regions.values()), frozenset(warehouses.values()))
    person = acting_user(actor)
    if actor is None:
        return grants
    own = scope_of(person)
    if own.enterprise:
        return grants
    beyond = (["the whole enterprise"] if grants.enterprise else []) + sorted(
        [f"region {r.code}" for r in grants.regions if not own.covers_whole_region(r.pk)]
        + [f"warehouse {w.code}" for w in grants.warehouses if not own.covers_warehouse(w.pk)])
    if beyond:
        raise OutsideScope(f"You may grant only inside your own scope, not {', '.join(beyond)}.",
                           detail={"scope": [f"Outside your scope: {name}." for name in beyond]})
    return grants


def _validated_roles(roles: Iterable[str]) -> list[Group]:
    keys = list(dict.fromkeys(roles))
    unknown = [key for key in keys if key not in ROLE_BY_KEY]
    if unknown:
        raise ValidationFailed(
            "Unknown role.",
            detail={"roles": [f"Unknown role {key}; the roles are {', '.join(ROLE_BY_KEY)}." for key in unknown]})
    return list(Group.objects.filter(name__in=[ROLE_BY_KEY[key].group for key in keys]))


def _scope_replace(user: User, grants: _Grants) -> None:
    """Make ``user``'s grants exactly ``grants``, touching only the rows that change (so the audit trail
    lists what was granted and what revoked, not a rewrite of everything). Caller holds the user's lock."""
    Region, Warehouse = _network_models()

    current = user_access([user])[user.pk].scope
    app_label, codename = ENTERPRISE_PERMISSION.split(".")
    enterprise = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    if grants.enterprise and current.type != "enterprise":
        user.user_permissions.add(enterprise)
    elif not grants.enterprise:
        user.user_permissions.remove(enterprise)
    had_regions = set(Region.objects.filter(code__in=current.regions))
    had_warehouses = set(Warehouse.objects.filter(code__in=current.warehouses))
    for region in sorted(had_regions - grants.regions, key=lambda r: r.pk):
        remove_perm(f"warehouses.{REGION_PERMISSION}", user, region)
    for warehouse in sorted(had_warehouses - grants.warehouses, key=lambda w: w.pk):
        remove_perm(f"warehouses.{WAREHOUSE_PERMISSION}", user, warehouse)
    for region in sorted(grants.regions - had_regions, key=lambda r: r.pk):
        assign_perm(f"warehouses.{REGION_PERMISSION}", user, region)
    for warehouse in sorted(grants.warehouses - had_warehouses, key=lambda w: w.pk):
        assign_perm(f"warehouses.{WAREHOUSE_PERMISSION}", user, warehouse)
    forget_scope(user)


def _validated_account(*, username: str | None, email: str | None, password: str | None,
                       user: User | None = None) -> None:
    errors: dict[str, list[str]] = {}
    if username is not None:
        try:
            UnicodeUsernameValidator()(username)
            if not username or len(username) > 150:
                raise ValidationError("Give 1 to 150 characters.")
        except ValidationError as exc:
            errors["username"] = list(exc.messages)
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            errors["email"] = list(exc.messages)
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed(detail=errors)


@command
def user_access_set(*, username: str, actor: Actor, create: bool = False, email: str | None = None,
                    active: bool | None = None, roles: Iterable[str] | None = None, scope: ScopeSpec | None = None,
                    password: str | None = None) -> User:
    """Create (``create``) or change a user: their account, and exactly the ``roles`` and ``scope`` given.

    ``roles`` and ``scope`` replace what the user had; ``None`` leaves them as they are. Only an
    administrator (``erp.selectors.may_manage_users``) or the system may do it; a person may change only
    users inside their own scope and grant only inside it (403 ``outside_scope``). Bad input is 400 and
    changes nothing. The user's row is locked first, so two administrators changing one user at once
    are applied one after the other, never mixed. Every row this writes is on the audit trail with
    ``actor`` (the triggers on the users and grants tables).
    """
    person = acting_user(actor)
    if actor is not None and not may_manage_users(person):
        raise PermissionDenied("Only an administrator may manage users.")
    groups = _validated_roles(roles) if roles is not None else None
    grants = _resolve_scope(scope, actor) if scope is not None else None
    if create:
        _validated_account(username=username, email=email, password=password)
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(username=username, email=email or "",
                                                            password=password, is_active=active is not False)
        except IntegrityError as exc:
            raise UserExists(detail={"username": [f"{username} is taken."]}) from exc
    else:
        found = users_administered_by(actor).select_for_update(of=("self",)).filter(username=username).first()
        if found is None:
            raise NotFound()
        user = found
        _validated_account(username=None, email=email, password=password, user=user)
        changed: list[str] = []
        if email is not None and email != user.email:
            user.email, changed = email, [*changed, "email"]
        if active is not None and active != user.is_active:
            if not active and person is not None and user.pk == person.pk:
                raise ValidationFailed(detail={"active": ["You cannot deactivate yourself."]})
            user.is_active, changed = active, [*changed, "is_active"]
        if password is not None:
            user.set_password(password)
            changed.append("password")
        if changed:
            user.save(update_fields=changed)
    if groups is not None:
        user.groups.set(groups)
    if grants is not None:
        _scope_replace(user, grants)
    return user


@command
def user_access_revoke(*, username: str, actor: Actor, roles: Iterable[str] = (),
                       scope: ScopeSpec | None = None) -> User:
    """Take ``roles`` and the regions or warehouses of ``scope`` (or the enterprise scope) from a user, keeping
    the rest; the same rules as ``user_access_set``."""
    person = acting_user(actor)
    if actor is not None and not may_manage_users(person):
        raise PermissionDenied("Only an administrator may manage users.")
    dropped_groups = {g.pk for g in _validated_roles(roles)}
    dropped = _resolve_scope(scope, actor) if scope is not None else None
    user = users_administered_by(actor).select_for_update(of=("self",)).filter(username=username).first()
    if user is None:
        raise NotFound()
    if dropped_groups:
        user.groups.remove(*dropped_groups)
    if dropped is not None:
        Region, Warehouse = _network_models()

        current = user_access([user])[user.pk].scope
        kept = _Grants(current.type == "enterprise" and not dropped.enterprise,
                       frozenset(set(Region.objects.filter(code__in=current.regions)) - dropped.regions),
                       frozenset(set(Warehouse.objects.filter(code__in=current.warehouses)) - dropped.warehouses))
        _scope_replace(user, kept)
    return user


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
