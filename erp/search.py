"""Free-text search over a few fields: the one condition used by API filters and list screens."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters
from django.db.models import Q, QuerySet


def matching(fields: Iterable[str], term: str) -> Q:
    """Rows where any of ``fields`` contains ``term``, ignoring case."""
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__icontains": term})
    return condition


class SearchFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types: FilterSet is Any
    """A FilterSet with ``?search=`` over the subclass's ``search_fields``."""

    search_fields: tuple[str, ...] = ()
    search = django_filters.CharFilter(method="filter_search")

    def filter_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(matching(self.search_fields, value))
