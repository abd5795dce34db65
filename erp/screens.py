"""What every browser list and detail screen shares: permission, scope, search, paging, htmx partials.

A screen names its model, the view permission it needs and a base queryset; the queryset is always
narrowed by ``scope_queryset`` before anything else touches it, so a detail URL outside the user's
scope is a 404 exactly like one that does not exist. Lists answer an htmx request (``HX-Request``)
with just their table rows and an out-of-band pager, so the search box can refresh the results in
place, and the same URL without htmx is an ordinary page that works with JavaScript off.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from django import forms
from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import resolve, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import slugify
from django.views.generic import DetailView, ListView

from erp.csv_exchange import schema_for
from erp.exceptions import DomainError, NotFound, PermissionDenied
from erp.formats import cell_text, spreadsheet_safe
from erp.scoping import scope_queryset, time_zone_name_of
from erp.search import matching

SEARCH_MAX_LENGTH = 100
EXPORT_CHUNK = 500  # rows fetched per round trip while a list streams out as CSV

M = TypeVar("M", bound=Model)


def is_htmx_partial(request: HttpRequest) -> bool:
    """An htmx request for a fragment; a history restore wants the whole page back."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def model_choice_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField[Any]:
    """The form's ``name`` field, declared as a ``ModelChoiceField`` (a screen narrows its choices per user)."""
    field = form.fields[name]
    if not isinstance(field, forms.ModelChoiceField):
        raise TypeError(f"{type(form).__name__}.{name} is a {type(field).__name__}, not a ModelChoiceField")
    return field


def label_choices(form: forms.BaseForm, name: str, label: Callable[[Any], str]) -> None:
    """Show each choice of the form's ``name`` field as ``label(obj)`` rather than ``str(obj)``."""
    field = model_choice_field(form, name)
    field.label_from_instance = label  # type: ignore[method-assign, assignment]  # per field, not by subclassing


def with_one_more_line(posted: QueryDict, *, most: int, prefix: str = "lines") -> QueryDict:
    """*Add line* on an entry screen: a copy of the form as typed with one more, empty, row in the ``prefix``
    formset (never more than ``most``; a mangled row count counts as 1). Nothing is validated yet."""
    data = posted.copy()
    try:
        total = int(data.get(f"{prefix}-TOTAL_FORMS", "1"))
    except ValueError:
        total = 1
    data[f"{prefix}-TOTAL_FORMS"] = str(min(max(total, 0) + 1, most))
    return data


def added_line_fragment(request: HttpRequest, template_name: str, lines: Any) -> HttpResponse:
    """htmx's answer to *Add line*: only the lines (``template_name``), no errors shown yet, the new last row
    focused. The same URL answers the whole page without htmx, so caches must tell the two apart."""
    response = render(request, template_name, {"lines": lines, "show_errors": False, "focus_last": True})
    patch_vary_headers(response, ["HX-Request"])
    return response


@dataclass(frozen=True)
class Column:
    """One column of a list: its heading, how it sorts and what its CSV cell holds.

    ``sort`` is the ORM path the column orders by (None: not sortable); ``value`` the attribute path
    (``customer.code``, ``get_status_display``) or a function of the row giving the exported cell (None:
    not exported, such as an action button); ``css`` the heading's classes (``num``, ``col-opt``).
    """

    label: str
    value: str | Callable[[Any], Any] | None = None
    sort: str | None = None
    css: str = ""
    key: str = ""

    @property
    def slug(self) -> str:
        return self.key or slugify(self.label).replace("-", "_")

    def cell(self, row: Any) -> Any:
        if self.value is None:
            return ""
        if callable(self.value):
            return self.value(row)
        value = row
        for part in self.value.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
            if callable(value) and not isinstance(value, Model):
                value = value()
        return value


class _Echo:
    """A file that hands back what is written to it, so ``csv.writer`` can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def export_name(title: str) -> str:
    """``sales-orders-20261204.csv``: what the list is and the reader's date."""
    return f"{slugify(title)}-{timezone.localdate():%Y%m%d}.csv"


class ColumnSet:
    """A table's ``Column``s applied to one request: the sort it asks for, the headings that change it, and
    the CSV of the rows. ``ScreenListView`` uses one; a screen that is not a plain list (a work queue, a
    dashboard's table) uses one directly so its table sorts and exports the same way.
    """

    def __init__(self, request: HttpRequest, columns: tuple[Column, ...], default_sort: str = "", *,
                 path: str = "") -> None:
        self.request, self.columns, self.default_sort = request, columns, default_sort
        self.path = path or request.path  # the page the links go to (a fragment's own URL is not one)

    def sortable(self) -> dict[str, Column]:
        return {column.slug: column for column in self.columns if column.sort}

    def sort_choice(self) -> tuple[Column | None, bool]:
        """The column asked for in ``?sort=`` (or the default) and whether descending; unknown ones are ignored."""
        raw = self.request.GET.get("sort", "").strip()[:SEARCH_MAX_LENGTH] or self.default_sort
        descending = raw.startswith("-")
        column = self.sortable().get(raw.lstrip("-"))
        return column, descending and column is not None

    def sorted(self, queryset: QuerySet[M]) -> QuerySet[M]:
        column, descending = self.sort_choice()
        if column is None or column.sort is None:
            return queryset
        key = F(column.sort)
        ordered = key.desc(nulls_last=True) if descending else key.asc(nulls_last=True)
        # The primary key breaks ties, so a page boundary never repeats or skips a row.
        return queryset.order_by(ordered, "-pk" if descending else "pk")

    def sort_url(self, column: Column, descending: bool) -> str:
        query = self.request.GET.copy()
        query["sort"] = f"-{column.slug}" if descending else column.slug
        for dropped in ("page", "export"):
            query.pop(dropped, None)
        return f"{self.path}?{query.urlencode()}"

    def heads(self) -> list[dict[str, Any]]:
        """Each heading with, when it sorts, the link that sorts by it (the other way when already chosen)."""
        chosen, descending = self.sort_choice()
        heads = []
        for column in self.columns:
            head: dict[str, Any] = {"label": column.label, "css": column.css, "slug": column.slug,
                                    "sort_url": "", "state": ""}
            if column.sort:
                is_chosen = chosen is not None and chosen.slug == column.slug
                head["state"] = ("descending" if descending else "ascending") if is_chosen else ""
                head["sort_url"] = self.sort_url(column, descending=is_chosen and not descending)
            heads.append(head)
        return heads

    def export_url(self) -> str:
        query = self.request.GET.copy()
        query.pop("page", None)
        query["export"] = "csv"
        return f"{self.path}?{query.urlencode()}"

    def chosen_sort(self) -> str:
        """The sort in force as ``?sort=`` spells it ("" for the default), for a form to carry along."""
        column, descending = self.sort_choice()
        return "" if column is None else f"{'-' if descending else ''}{column.slug}"

    def wants_export(self) -> bool:
        return self.request.GET.get("export") == "csv" and bool(self.columns)

    def rows(self, queryset: QuerySet[Any]) -> Iterator[list[str]]:
        exported = [column for column in self.columns if column.value is not None]
        yield [column.label for column in exported]
        for row in queryset.iterator(chunk_size=EXPORT_CHUNK):
            yield [spreadsheet_safe(cell_text(column.cell(row))) for column in exported]

    def export(self, queryset: QuerySet[Any], filename: str) -> StreamingHttpResponse:
        """``queryset`` (already scoped, filtered and sorted by the caller) streamed out as CSV."""
        writer = csv.writer(_Echo())
        # The rows are written after the view returns, when the reader's time zone is no longer active.
        zone = timezone.get_current_timezone()

        def lines() -> Iterator[str]:
            with timezone.override(zone):
                for row in self.rows(queryset):
                    yield writer.writerow(row)

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def list_export_text(user: Any, path: str, query: str, *, progress: Callable[[int], None] | None = None) -> str:
    """The CSV a list at ``path?query`` exports for ``user``, made outside the request (a background job): the
    list's own view narrows, searches and sorts, on the reader's clock; no permission, no rows."""
    match = resolve(path)
    view_class = getattr(match.func, "view_class", None)
    if view_class is None or not issubclass(view_class, ScreenListView):
        raise NotFound("That page is not a list.")
    request = HttpRequest()  # the list's view reads only the method, the path, the query and the user
    request.method, request.path, request.path_info, request.GET = "GET", path, path, QueryDict(query)
    request.user = user
    view = view_class()
    view.setup(request, *match.args, **match.kwargs)
    if not view.has_permission():
        raise PermissionDenied("Your role may not read that list.")
    out = io.StringIO()
    writer = csv.writer(out)
    zone = time_zone_name_of(user)
    with timezone.override(zoneinfo.ZoneInfo(zone) if zone else None):
        for number, row in enumerate(view.column_set().rows(view.get_queryset())):
            writer.writerow(row)
            if progress is not None and number and number % EXPORT_CHUNK == 0:
                progress(number)
    return out.getvalue()


def put_refusal(form: forms.Form, error: DomainError) -> None:
    """A service's refusal on a form: its message on top, each field's problems beside the field, problems about
    anything the form has no field for (its lines) under the message."""
    form.add_error(None, error.message)
    detail = error.detail if isinstance(error.detail, dict) else {}
    for field, problems in detail.items():
        if not isinstance(problems, list):
            continue
        texts = [str(problem) for problem in problems if isinstance(problem, str)]
        if field in form.fields and texts:
            form.add_error(field, texts)
        elif texts:
            form.add_error(None, texts)


class ScreenAccessMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Anonymous users go to the login page; a signed-in user without the permission gets 403."""

    raise_exception = False  # anonymous: redirect; authenticated without permission: PermissionDenied


class ScopedQuerysetMixin(Generic[M]):
    """The one place a screen's rows come from: the screen's base queryset narrowed to the user's scope."""

    request: HttpRequest

    def screen_model(self) -> type[M]:
        """The screen's ``model`` (list and detail views declare it with different types)."""
        raise NotImplementedError

    def base_queryset(self) -> QuerySet[M]:
        return self.screen_model()._default_manager.all()

    def get_queryset(self) -> QuerySet[M]:
        return scope_queryset(self.base_queryset(), self.request.user)


class ScreenListView(ScreenAccessMixin, ScopedQuerysetMixin[M], ListView[M]):
    """A searchable, paginated list. Subclasses set ``model``, ``permission_required``,
    ``search_fields``, ``template_name`` (the full page, extending ``screens/list.html``) and
    ``rows_template_name`` (the table rows, also the body of the htmx answer)."""

    paginate_by = 25
    search_fields: ClassVar[tuple[str, ...]] = ()
    rows_template_name: ClassVar[str]
    title: ClassVar[str] = ""
    search_placeholder: ClassVar[str] = "Search"
    csv_kind: ClassVar[str | None] = None  # the erp.csv_exchange kind offered for export/import here
    # The table's columns: headings (sortable where ``sort`` is set) and the CSV export of the filtered rows.
    columns: ClassVar[tuple[Column, ...]] = ()
    default_sort: ClassVar[str] = ""  # a column's slug, "-" in front for descending; "" keeps the queryset's

    def screen_model(self) -> type[M]:
        if self.model is None:
            raise ImproperlyConfigured(f"{type(self).__name__} names no model.")
        return self.model

    # A document list's whole number (``TR-000042``, any case) finds exactly that document, never one whose number
    # merely contains it; anything else searches as every list does.
    exact_number: ClassVar[re.Pattern[str] | None] = None

    def search_term(self) -> str:
        return self.request.GET.get("q", "").strip()[:SEARCH_MAX_LENGTH]

    def get_queryset(self) -> QuerySet[M]:
        term = self.search_term()
        if term and self.exact_number is not None and self.exact_number.fullmatch(term):
            return self.sorted(scope_queryset(self.base_queryset(), self.request.user).filter(number__iexact=term))
        queryset = super().get_queryset()
        if term and self.search_fields:
            queryset = queryset.filter(matching(self.search_fields, term))
        return self.sorted(queryset)

    def column_set(self) -> ColumnSet:
        return ColumnSet(self.request, self.columns, self.default_sort)

    def sorted(self, queryset: QuerySet[M]) -> QuerySet[M]:
        return self.column_set().sorted(queryset)

    def column_heads(self) -> list[dict[str, Any]]:
        return self.column_set().heads()

    def export_url(self) -> str:
        return self.column_set().export_url()

    def export_name(self) -> str:
        return export_name(self.title or str(self.screen_model()._meta.verbose_name_plural))

    def export_csv(self) -> HttpResponse | StreamingHttpResponse:
        """Every row the filters, the search and the scope let through (all pages), in the list's sort order:
        streamed at once up to ``settings.CSV_JOB_THRESHOLD_ROWS`` rows, beyond that made by a background job
        whose page shows its progress and then offers the file."""
        queryset = self.get_queryset()
        rows = queryset.count()
        if rows > settings.CSV_JOB_THRESHOLD_ROWS:
            from erp.csv_jobs import csv_job_start

            query = self.request.GET.copy()
            query.pop("export", None)
            job = csv_job_start(kind=slugify(self.title or str(self.screen_model()._meta.verbose_name_plural)),
                                user=self.request.user, direction="export", filename=self.export_name(),
                                params={"list_path": self.request.path, "query": query.urlencode(), "rows": rows})
            return HttpResponseRedirect(reverse("csv:job", args=[job.pk]))
        return self.column_set().export(queryset, self.export_name())

    def get(  # type: ignore[override]  # the stubs allow only HttpResponse; Django serves a streaming one as well
            self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse | StreamingHttpResponse:
        if self.column_set().wants_export():
            return self.export_csv()
        return super().get(request, *args, **kwargs)

    # A list with filters above its table answers htmx with the filters' partial, so they stay in step.
    has_filters: ClassVar[bool] = False

    def get_template_names(self) -> list[str]:
        if is_htmx_partial(self.request):
            return ["screens/_filter_list_partial.html" if self.has_filters else "screens/list_partial.html"]
        return super().get_template_names()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            q=self.search_term(),
            title=self.title or str(self.screen_model()._meta.verbose_name_plural).capitalize(),
            search_placeholder=self.search_placeholder,
            rows_template_name=self.rows_template_name,
            list_url=self.request.path,
            columns=self.column_heads(),
            export_url=self.export_url() if self.columns else "",
            **self._csv_actions(),
        )
        return context

    def _csv_actions(self) -> dict[str, Any]:
        """Export and import links, each shown only when the user's role allows it."""
        if self.csv_kind is None:
            return {}
        schema = schema_for(self.csv_kind, self.request.user)
        return {
            "csv_export_url": reverse("csv:export", args=[self.csv_kind]) if schema.may_export() else None,
            "csv_import_url": reverse("csv:import", args=[self.csv_kind]) if schema.may_import() else None,
        }

    def render_to_response(self, context: dict[str, Any], **response_kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **response_kwargs)
        # The same URL answers a fragment or a page depending on this header; caches must tell them apart.
        patch_vary_headers(response, ["HX-Request"])
        return response


class ScreenDetailView(ScreenAccessMixin, ScopedQuerysetMixin[M], DetailView[M]):
    """One row found by its business key within the user's scope; anything else is a 404."""

    slug_url_kwarg = "code"
    slug_field = "code"

    def screen_model(self) -> type[M]:
        return self.model
