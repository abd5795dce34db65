"""Reads of the network shared by the API, screens, admin and exports (always scoped)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from erp.scoping import scope_queryset
from warehouses.models import LegalEntity, Location, Region, Warehouse


def regions_for(user: Any) -> QuerySet[Region]:
    return scope_queryset(Region.objects.all(), user)


def legal_entities_for(user: Any) -> QuerySet[LegalEntity]:
    return scope_queryset(LegalEntity.objects.all(), user)


def warehouses_for(user: Any) -> QuerySet[Warehouse]:
    return scope_queryset(Warehouse.objects.select_related("region", "legal_entity"), user)


def locations_for(user: Any) -> QuerySet[Location]:
    return scope_queryset(Location.objects.select_related("warehouse", "parent"), user)
