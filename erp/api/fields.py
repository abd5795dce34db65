"""Serializer fields that resolve natural keys inside the caller's scope."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from erp.scoping import scope_queryset


class ScopedSlugRelatedField(serializers.SlugRelatedField[Any]):
    """A reference by natural key that only resolves objects in the caller's scope.

    An object outside the scope is reported exactly like one that does not exist.
    """

    def get_queryset(self) -> QuerySet[Any] | None:
        queryset = super().get_queryset()
        if queryset is None:  # only a read-only field has none, and it never resolves a reference
            return None
        return scope_queryset(queryset, self.context.get("user"))
