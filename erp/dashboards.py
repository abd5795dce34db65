"""Home-page dashboards: panels of figures, each figure a link to the list it counts.

Each app declares its panels as data (``PanelSpec``: which roles see it, the permission it needs, the
function that reads its figures through the app's selectors), and ``erp.views.home`` composes them per
role. A panel exists only once its module does, so there is never a placeholder: a role whose work has no
screen yet simply has fewer panels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, QuerySet
from django.urls import reverse


@dataclass(frozen=True)
class Figure:
    """One number on a panel, linked to the filtered list that shows what it counts."""

    label: str
    value: int | str
    url: str
    key: str = ""  # stable name for tests and the browser (``data-figure``)
    tone: str = ""  # "" | "warn" | "bad": draws the eye to what is late or waiting
    hint: str = ""
    api: str = ""  # the API list whose ``count`` is this figure, for integrators and the tests that hold them equal


@dataclass(frozen=True)
class Chart:
    """A small line chart (Chart.js): ``labels`` on the x axis, ``values`` (None where there is no figure)."""

    title: str
    labels: list[str]
    values: list[float | None]
    unit: str = ""

    @property
    def data(self) -> dict[str, Any]:
        """What the page's script draws, as JSON."""
        return {"title": self.title, "labels": self.labels, "values": self.values, "unit": self.unit}


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    figures: list[Figure]
    note: str = ""
    chart: Chart | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url): named items, e.g. deviations

    @property
    def chart_id(self) -> str:
        return f"chart-{self.key}"


@dataclass(frozen=True)
class PanelSpec:
    key: str
    roles: frozenset[str]
    permission: str | None  # None: the panel reads only the user's own things
    build: Callable[[Any, datetime], Panel | None]  # (user, now) -> the panel, or None when it has nothing to say


def list_url(url_name: str, params: Mapping[str, str] | None = None) -> str:
    """The address of a list, filtered by ``params`` (empty values left out)."""
    url = reverse(url_name)
    query = urlencode({name: value for name, value in (params or {}).items() if value})
    return f"{url}?{query}" if query else url


def api_url(path: str, params: Mapping[str, str] | None = None) -> str:
    """The address of an API list (``path`` under /api/v1/), filtered by ``params`` (empty values left out)."""
    query = urlencode({name: value for name, value in (params or {}).items() if value})
    return f"/api/v1/{path}" + (f"?{query}" if query else "")


def counted_by_warehouse(queryset: QuerySet[Any], *, label: str, total_key: str, key_prefix: str, url_name: str,
                         params: Mapping[str, str], tone: str = "", api_path: str = "") -> list[Figure]:
    """The rows of ``queryset`` (scoped and filtered by the caller; its model has a ``warehouse``) counted in all
    and per warehouse, each figure linked to ``url_name`` filtered by ``params`` (and by the warehouse). One
    query."""
    rows = list(queryset.values("warehouse__code").annotate(n=Count("pk")).order_by("warehouse__code"))
    total = sum(row["n"] for row in rows)
    figures = [Figure(label=label, value=total, key=total_key, tone=tone if total else "",
                      url=list_url(url_name, params), api=api_url(api_path, params) if api_path else "")]
    figures += [Figure(label=row["warehouse__code"], value=row["n"], key=f"{key_prefix}-{row['warehouse__code']}",
                       url=list_url(url_name, {**params, "warehouse": row["warehouse__code"]}),
                       api=api_url(api_path, {**params, "warehouse": row["warehouse__code"]}) if api_path else "")
                for row in rows]
    return figures


def panels_for(user: Any, role_keys: Iterable[str], specs: Iterable[PanelSpec], now: datetime) -> list[Panel]:
    """The panels of ``role_keys`` (in the order the specs are declared) that ``user`` may see, each once."""
    wanted = set(role_keys)
    panels = []
    for spec in specs:
        if not (spec.roles & wanted) or (spec.permission is not None and not user.has_perm(spec.permission)):
            continue
        panel = spec.build(user, now)
        if panel is not None:
            panels.append(panel)
    return panels
