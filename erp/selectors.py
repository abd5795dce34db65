"""Platform reads: who may administer which users, and each user's roles and scope as a grant reads.

A user's scope is stored as grants (``erp.scoping``): the global permission ``access_all_regions`` for
the enterprise, guardian object permissions for regions and warehouses. ``ScopeSpec`` is the one shape
the API, the screen, the admin and ``manage.py grant_scope`` speak: ``enterprise``, ``regions`` or
``warehouses`` (what can be granted), ``none`` (nothing granted) and ``mixed`` (regions and single
warehouses both granted, which only grants made before user administration existed can produce).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet
from guardian.models import UserObjectPermission

from erp.roles import ROLE_BY_GROUP
from erp.scoping import ENTERPRISE_PERMISSION, REGION_PERMISSION, WAREHOUSE_PERMISSION, scope_of

# Holding this permission (the administrator role grants it) is what lets a user administer others.
MANAGE_USERS_PERMISSION = "auth.change_user"
SCOPE_TYPES = ("enterprise", "regions", "warehouses")


@dataclass(frozen=True)
class ScopeSpec:
    type: str  # "enterprise", "regions", "warehouses"; read back also "none" or "mixed"
    regions: tuple[str, ...] = ()
    warehouses: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"type": self.type}
        if self.type in ("regions", "mixed"):
            shown["regions"] = list(self.regions)
        if self.type in ("warehouses", "mixed"):
            shown["warehouses"] = list(self.warehouses)
        return shown

    def label(self) -> str:
        if self.type == "enterprise":
            return "the whole enterprise"
        if self.type == "none":
            return "nothing"
        parts = []
        if self.regions:
            parts.append(("region " if len(self.regions) == 1 else "regions ") + ", ".join(self.regions))
        if self.warehouses:
            parts.append(", ".join(self.warehouses))
        return "; ".join(parts)


@dataclass
class UserAccess:
    roles: list[str] = field(default_factory=list)
    scope: ScopeSpec = field(default_factory=lambda: ScopeSpec("none"))


def may_manage_users(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active
                and user.has_perm(MANAGE_USERS_PERMISSION))


def _enterprise_permission() -> Permission:
    app_label, codename = ENTERPRISE_PERMISSION.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def users_administered_by(actor: Any) -> QuerySet[User]:
    """The users ``actor`` may see and change: those whose whole scope lies inside the actor's.

    A superuser is administered by superusers only; the system (``None``) administers everyone. A user
    with nothing granted is inside every scope, so any administrator may take on a new or revoked user.
    """
    users = get_user_model().objects.all()
    if actor is None:
        return users
    if not may_manage_users(actor):
        return users.none()
    if not actor.is_superuser:
        users = users.filter(is_superuser=False)
    scope = scope_of(actor)
    if scope.enterprise:
        return users
    region_type = ContentType.objects.get_by_natural_key("warehouses", "region")
    warehouse_type = ContentType.objects.get_by_natural_key("warehouses", "warehouse")
    outside = UserObjectPermission.objects.filter(user=OuterRef("pk")).filter(
        (Q(content_type=region_type, permission__codename=REGION_PERMISSION)
         & ~Q(object_pk__in=[str(pk) for pk in scope.full_region_ids]))
        | (Q(content_type=warehouse_type, permission__codename=WAREHOUSE_PERMISSION)
           & ~Q(object_pk__in=[str(pk) for pk in scope.warehouse_ids]))
    )
    app_label, codename = ENTERPRISE_PERMISSION.split(".")
    enterprise = get_user_model().user_permissions.through.objects.filter(
        user=OuterRef("pk"), permission__content_type__app_label=app_label, permission__codename=codename)
    return users.exclude(Exists(outside)).exclude(Exists(enterprise))


def user_access(users: list[User]) -> dict[int, UserAccess]:
    """Each user's role keys and scope, for any number of users in five queries."""
    Region, Warehouse = apps.get_model("warehouses", "Region"), apps.get_model("warehouses", "Warehouse")
    ids = [user.pk for user in users]
    access = {pk: UserAccess() for pk in ids}
    if not ids:
        return access
    memberships = get_user_model().groups.through.objects.filter(user_id__in=ids).values_list("user_id",
                                                                                               "group__name")
    for user_id, group in memberships:
        role = ROLE_BY_GROUP.get(group)
        if role is not None:
            access[user_id].roles.append(role.key)
    app_label, codename = ENTERPRISE_PERMISSION.split(".")
    enterprise = set(get_user_model().user_permissions.through.objects.filter(
        user_id__in=ids, permission__content_type__app_label=app_label, permission__codename=codename,
    ).values_list("user_id", flat=True))
    grants = list(UserObjectPermission.objects.filter(
        user_id__in=ids, permission__codename__in=(REGION_PERMISSION, WAREHOUSE_PERMISSION),
        permission__content_type__app_label="warehouses",
    ).values_list("user_id", "permission__codename", "object_pk"))
    region_ids = {int(pk) for _, perm, pk in grants if perm == REGION_PERMISSION}
    warehouse_ids = {int(pk) for _, perm, pk in grants if perm == WAREHOUSE_PERMISSION}
    region_codes = dict(Region.objects.filter(pk__in=region_ids).values_list("pk", "code")) if region_ids else {}
    warehouse_codes = (dict(Warehouse.objects.filter(pk__in=warehouse_ids).values_list("pk", "code"))
                       if warehouse_ids else {})
    regions: dict[int, set[str]] = {}
    warehouses: dict[int, set[str]] = {}
    for user_id, perm, object_pk in grants:
        if perm == REGION_PERMISSION and int(object_pk) in region_codes:
            regions.setdefault(user_id, set()).add(region_codes[int(object_pk)])
        elif perm == WAREHOUSE_PERMISSION and int(object_pk) in warehouse_codes:
            warehouses.setdefault(user_id, set()).add(warehouse_codes[int(object_pk)])
    by_pk = {user.pk: user for user in users}
    for pk, entry in access.items():
        entry.roles.sort()
        if pk in enterprise or by_pk[pk].is_superuser:
            entry.scope = ScopeSpec("enterprise")
            continue
        mine_r = tuple(sorted(regions.get(pk, set())))
        mine_w = tuple(sorted(warehouses.get(pk, set())))
        kind = ("mixed" if mine_r and mine_w else "regions" if mine_r else "warehouses" if mine_w else "none")
        entry.scope = ScopeSpec(kind, mine_r, mine_w)
    return access


def attach_access(users: list[User]) -> list[User]:
    """Give each user ``access`` (a ``UserAccess``), read for all of them at once."""
    found = user_access(users)
    for user in users:
        user.access = found[user.pk]  # type: ignore[attr-defined]  # a read-model attribute, not a field
    return users

