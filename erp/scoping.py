"""The caller's scope, and the one function that narrows any queryset to it.

A scope is the whole enterprise, some regions, or some warehouses. It is granted as
django-guardian object permissions: ``warehouses.access_region`` on a region (which covers every
warehouse in it, present and future) or ``warehouses.access_warehouse`` on a warehouse; the
global permission ``warehouses.access_all_regions`` (or superuser) is the enterprise scope.

Each model says how it is reached through ``scoped_by`` (see ``ScopedBy``). API views, screens,
admin and exports all call ``scope_queryset``; a model without ``scoped_by`` is refused there, so
forgetting to declare a rule fails loudly instead of leaking rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.db import models
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

M = TypeVar("M", bound=models.Model)

ENTERPRISE_PERMISSION = "warehouses.access_all_regions"
REGION_PERMISSION = "access_region"
WAREHOUSE_PERMISSION = "access_warehouse"


@dataclass(frozen=True)
class ScopedBy:
    """How a model's rows are reached from the network: a lookup path and what it points to.

    ``ScopedBy("warehouse", "warehouse")`` keeps rows whose ``warehouse`` is in scope;
    ``ScopedBy("region", "region")`` rows of a region in scope; ``ScopedBy("legal_entity", "pk")``
    legal entities owning a warehouse in scope; ``ScopedBy.enterprise()`` enterprise-wide master
    data (items, suppliers, carriers) that every authorised user may read.
    """

    kind: str
    path: str = ""
    region_path: str = ""
    unscoped_visible: bool = False
    # More paths of the same kind: a row is visible when any of its paths is in scope (a transfer is seen at
    # both of its warehouses). The audit trail files a row's events under ``path``.
    also: tuple[str, ...] = ()

    @classmethod
    def enterprise(cls) -> ScopedBy:
        return cls("enterprise")

    @classmethod
    def site(cls, warehouse: str = "warehouse", region: str = "region", *, unscoped_visible: bool = False) -> ScopedBy:
        """Rows that belong to a warehouse, or (with no warehouse) to a region.

        A row with a warehouse is visible when that warehouse is in scope; a row with only a region
        when the region is; a row with neither only when ``unscoped_visible`` (enterprise-level
        records such as an item's audit history).
        """
        return cls("site", warehouse, region, unscoped_visible)


@dataclass(frozen=True)
class Scope:
    enterprise: bool
    warehouse_ids: frozenset[int] = frozenset()
    region_ids: frozenset[int] = frozenset()
    legal_entity_ids: frozenset[int] = frozenset()
    # Regions covered WHOLLY: granted as a region, or every one of their warehouses granted.
    # ``region_ids`` also holds the region of any single granted warehouse (so rows of that
    # region are readable); acting FOR a region (a region deviation, a region-level approval)
    # needs the region wholly.
    full_region_ids: frozenset[int] = frozenset()

    def label(self) -> str:
        if self.enterprise:
            return "enterprise"
        return f"{len(self.region_ids)} region(s), {len(self.warehouse_ids)} warehouse(s)"

    def ids_for(self, kind: str) -> frozenset[int]:
        return {
            "warehouse": self.warehouse_ids,
            "region": self.region_ids,
            "legal_entity": self.legal_entity_ids,
        }[kind]

    def covers_warehouse(self, warehouse_id: int) -> bool:
        return self.enterprise or warehouse_id in self.warehouse_ids

    def covers_region(self, region_id: int) -> bool:
        return self.enterprise or region_id in self.region_ids

    def covers_whole_region(self, region_id: int) -> bool:
        """Every warehouse of the region, present and future by grant or all present ones one by one."""
        return self.enterprise or region_id in self.full_region_ids


EMPTY_SCOPE = Scope(enterprise=False)


def scope_of(user: Any) -> Scope:
    """The user's scope, computed once per user object (a request or a task) in a few queries."""
    cached: Scope | None = getattr(user, "_concord_scope", None)
    if cached is not None:
        return cached
    scope = _compute_scope(user)
    if user is not None and getattr(user, "is_authenticated", False):
        user._concord_scope = scope
    return scope


def _compute_scope(user: Any) -> Scope:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return EMPTY_SCOPE
    if user.is_superuser or user.has_perm(ENTERPRISE_PERMISSION):
        return Scope(enterprise=True)
    from guardian.shortcuts import get_objects_for_user

    Region = apps.get_model("warehouses", "Region")
    Warehouse = apps.get_model("warehouses", "Warehouse")
    granted_regions = set(get_objects_for_user(
        user, f"warehouses.{REGION_PERMISSION}", klass=Region, accept_global_perms=False
    ).values_list("pk", flat=True))
    granted_warehouses = get_objects_for_user(
        user, f"warehouses.{WAREHOUSE_PERMISSION}", klass=Warehouse, accept_global_perms=False
    ).values("pk")
    # Every warehouse of each region touched by a grant (one query): which are in scope, and
    # whether a region touched through single warehouses is covered wholly.
    touched = Warehouse.objects.filter(pk__in=granted_warehouses).values("region_id")
    rows = list(Warehouse.objects.filter(Q(region_id__in=granted_regions) | Q(region_id__in=touched)).values_list(
        "pk", "region_id", "legal_entity_id",
        ExpressionWrapper(Q(region_id__in=granted_regions) | Q(pk__in=granted_warehouses),
                          output_field=BooleanField())))
    in_scope = [r for r in rows if r[3]]
    partial = {r[1] for r in rows if not r[3]}
    return Scope(
        enterprise=False,
        warehouse_ids=frozenset(r[0] for r in in_scope),
        region_ids=frozenset(r[1] for r in in_scope),
        legal_entity_ids=frozenset(r[2] for r in in_scope),
        full_region_ids=frozenset(granted_regions | ({r[1] for r in in_scope} - partial)),
    )


def forget_scope(user: Any) -> None:
    """Drop the cached scope after a grant changes within the same request or task."""
    if hasattr(user, "_concord_scope"):
        del user._concord_scope


def scoped_by(model: type[models.Model]) -> ScopedBy:
    rule = getattr(model, "scoped_by", None)
    if not isinstance(rule, ScopedBy):
        raise TypeError(f"{model.__name__} declares no scoped_by rule; every model read by users needs one")
    return rule


def scope_queryset(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Narrow ``queryset`` to what ``user`` may see. Unknown users see nothing."""
    rule = scoped_by(queryset.model)
    if user is None or not getattr(user, "is_authenticated", False):
        return queryset.none()
    if rule.kind == "enterprise":
        return queryset
    scope = scope_of(user)
    if scope.enterprise:
        return queryset
    if rule.kind == "site":
        condition = Q(**{f"{rule.path}__in": scope.warehouse_ids}) | Q(
            **{f"{rule.path}__isnull": True, f"{rule.region_path}__in": scope.region_ids}
        )
        if rule.unscoped_visible:
            condition |= Q(**{f"{rule.path}__isnull": True, f"{rule.region_path}__isnull": True})
        return queryset.filter(condition)
    ids = scope.ids_for(rule.kind)
    condition = Q(**{f"{rule.path}__in": ids})
    for path in rule.also:
        condition |= Q(**{f"{path}__in": ids})
    return queryset.filter(condition)


def time_zone_name_of(user: Any) -> str:
    """The time zone the user reads times in: that of the warehouses in their scope when those share one, else
    "" (the site's, ``settings.TIME_ZONE``). One query; ``erp.middleware.TimeZoneMiddleware`` keeps the answer
    in the session."""
    scope = scope_of(user)
    if scope.enterprise or not scope.warehouse_ids:
        return ""
    Warehouse = apps.get_model("warehouses", "Warehouse")
    zones = set(Warehouse._default_manager.filter(pk__in=scope.warehouse_ids).values_list("timezone", flat=True))
    return zones.pop() if len(zones) == 1 else ""
