"""The one list framework (``erp.screens.ScreenListView`` with ``Column``): every document and master-data list
sorts by its columns, exports the rows its filters let through (every page, in scope) and writes quantities,
amounts, dates and statuses one way (``erp.formats``, ``{% load formats %}``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from erp import formats
from erp.screens import ScreenListView
from inventory.models import StockMove
from orders.models import Customer
from warehouses.models import Location, Warehouse

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _list_views(patterns: list[Any], prefix: str = "/") -> Iterator[tuple[str, type[ScreenListView[Any]]]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _list_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is not None and issubclass(view_class, ScreenListView):
                yield prefix + str(pattern.pattern), view_class


def list_views() -> list[tuple[str, type[ScreenListView[Any]]]]:
    return list(_list_views(get_resolver().url_patterns))


def signed_in(user: Any, username: str) -> Client:
    client = Client()
    client.force_login(user(username))
    return client


def exported(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def cells(page: str, label: str) -> list[str]:
    """The text of every cell of the column whose cells carry ``data-label="<label>"``."""
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(rf'<td data-label="{label}"[^>]*>(.*?)</td>', page, re.S)]


# --- every list is on the framework ------------------------------------------------------------------------


def test_every_list_declares_its_columns_and_sorts_by_each_sortable_one_both_ways(user: Any) -> None:
    client = signed_in(user, "admin")
    views = list_views()
    assert len(views) >= 13, views
    for url, view in views:
        assert view.columns, f"{view.__name__} ({url}) declares no columns"
        sortable = [column for column in view.columns if column.sort]
        assert sortable, f"{view.__name__} sorts by nothing"
        for column in sortable:
            for sort, state in ((column.slug, "ascending"), (f"-{column.slug}", "descending")):
                response = client.get(url, {"sort": sort})
                assert response.status_code == 200, (url, sort, response.status_code)
                head = re.search(rf'<th [^>]*data-column="{column.slug}"[^>]*>', response.content.decode())
                assert head is not None and f'aria-sort="{state}"' in head.group(0), (url, sort)


def test_every_list_exports_its_columns_as_csv(user: Any, settings: Any) -> None:
    settings.CSV_JOB_THRESHOLD_ROWS = 100_000  # streamed at once, whatever the list's size
    client = signed_in(user, "admin")
    for url, view in list_views():
        rows = exported(client.get(url, {"export": "csv"}))
        labels = [column.label for column in view.columns if column.value is not None]
        assert rows[0] == labels, url
        assert all(len(row) == len(labels) for row in rows[1:]), url


def test_a_sort_link_orders_the_rows_and_a_second_click_reverses_them(user: Any) -> None:
    client = signed_in(user, "admin")
    codes = sorted(Warehouse.objects.values_list("code", flat=True))
    ascending = client.get("/warehouses/", {"sort": "code"}).content.decode()
    assert cells(ascending, "Code") == codes
    link = re.search(r'<th [^>]*data-column="code"[^>]*><a [^>]*href="([^"]+)"', ascending)
    assert link is not None and "sort=-code" in link.group(1)
    descending = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert cells(descending, "Code") == codes[::-1]


def test_an_unknown_sort_is_ignored_and_the_list_keeps_its_own_order(user: Any) -> None:
    client = signed_in(user, "admin")
    plain = client.get("/warehouses/").content.decode()
    odd = client.get("/warehouses/", {"sort": "-password"})
    assert odd.status_code == 200
    assert cells(odd.content.decode(), "Code") == cells(plain, "Code")
    assert "aria-sort" not in odd.content.decode()


# --- the export holds the filtered rows of every page, in scope ---------------------------------------------


def test_the_export_holds_every_page_of_the_users_scope_and_nothing_beyond_it(user: Any) -> None:
    rows = exported(signed_in(user, "ne.operator").get("/locations/", {"export": "csv", "sort": "-location"}))
    in_scope = Location.objects.filter(warehouse__code__in=("NE-BOS", "NE-NYC"))
    assert in_scope.count() > 25, "the scope must span more than one page for this test to mean anything"
    assert len(rows) - 1 == in_scope.count()
    assert {row[0] for row in rows[1:]} == {"NE-BOS", "NE-NYC"}
    # In the database's collation, as the screen sorts them.
    assert [row[1] for row in rows[1:]] == list(in_scope.order_by("-code", "-pk").values_list("code", flat=True))


def test_the_export_keeps_the_search_and_the_filters_of_the_list(user: Any) -> None:
    client = signed_in(user, "admin")
    rows = exported(client.get("/stock/moves/", {"export": "csv", "warehouse": "NE-BOS"}))
    assert len(rows) - 1 == StockMove.objects.filter(warehouse__code="NE-BOS").count() > 0
    assert {row[2] for row in rows[1:]} == {"NE-BOS"}
    searched = exported(client.get("/warehouses/", {"export": "csv", "q": "NE-"}))
    assert [row[0] for row in searched[1:]] == ["NE-BOS", "NE-NYC"]


def test_the_list_offers_the_export_of_what_it_shows(user: Any) -> None:
    page = signed_in(user, "admin").get("/stock/moves/", {"warehouse": "NE-BOS", "page": "2"}).content.decode()
    link = re.search(r'<a id="list-export"[^>]*href="([^"]+)"', page)
    assert link is not None
    target = link.group(1).replace("&amp;", "&")
    assert "warehouse=NE-BOS" in target and "export=csv" in target and "page=" not in target


def test_a_filter_answered_by_htmx_refreshes_the_sort_links_and_the_export_with_it(user: Any) -> None:
    answer = signed_in(user, "admin").get("/stock/moves/", {"warehouse": "NE-NYC"}, **HTMX).content.decode()
    head = re.search(r'<thead id="list-head" hx-swap-oob="true">(.*?)</thead>', answer, re.S)
    assert head is not None
    assert "warehouse=NE-NYC" in head.group(1) and "sort=" in head.group(1)
    assert re.search(r'<a id="list-export"[^>]*hx-swap-oob="true"', answer)


def test_the_export_writes_a_formula_as_text_and_a_negative_number_as_a_number(user: Any) -> None:
    customer = Customer.objects.filter(region__code="NE").order_by("code").first()
    assert customer is not None
    Customer.objects.filter(pk=customer.pk).update(name="=HYPERLINK(\"http://example.invalid\")")
    rows = exported(signed_in(user, "admin").get("/customers/", {"export": "csv", "q": customer.code}))
    assert rows[1][1] == "'=HYPERLINK(\"http://example.invalid\")"
    assert formats.spreadsheet_safe("-5") == "-5"
    assert formats.spreadsheet_safe("-5 EA") == "'-5 EA"


def test_the_export_needs_the_lists_own_permission(user: Any, demo: Any) -> None:
    nobody = get_user_model().objects.create_user(username="list.nobody", password="x-password-123")
    client = Client()
    client.force_login(nobody)
    assert client.get("/warehouses/", {"export": "csv"}).status_code == 403
    assert Client().get("/warehouses/", {"export": "csv"}).status_code == 302


# --- one way to write a quantity, an amount, a date and a status ----------------------------------------------


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (Decimal("120.0000"), "EA", "120 EA"), (Decimal("2.5000"), "KG", "2.5 KG"), (Decimal("0.0000"), "EA", "0 EA"),
    (Decimal("-3.2500"), "", "-3.25"), (None, "EA", ""), (Decimal("1E+3"), "EA", "1000 EA"),
])
def test_a_quantity_has_no_padding_and_its_unit_beside_it(value: Any, unit: str, shown: str) -> None:
    assert formats.quantity_text(value, unit) == shown
    rendered = Template("{% load formats %}{{ value|qty:unit }}").render(Context({"value": value, "unit": unit}))
    assert rendered == shown


def test_an_amount_has_two_places_grouped_thousands_and_its_currency() -> None:
    assert formats.money_text(Decimal("1234.5"), "USD") == "1,234.50 USD"
    assert formats.money_text(Decimal("0"), "EUR") == "0.00 EUR"
    assert formats.money_text(None, "EUR") == ""


def test_a_date_time_is_written_once_on_the_readers_clock_with_its_zone() -> None:
    moment = dt.datetime(2026, 1, 15, 17, 5, tzinfo=dt.UTC)
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert formats.datetime_text(moment) == "2026-01-15 12:05 EST"
        assert Template("{% load formats %}{{ m|when }} {{ m|day }}").render(Context({"m": moment})) == \
            "2026-01-15 12:05 EST 2026-01-15"
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")):
        assert formats.date_text(moment) == "2026-01-16"
    assert formats.datetime_text(dt.date(2026, 3, 1)) == "2026-03-01"


def test_a_status_badge_shows_the_name_and_keeps_the_code_in_its_tooltip() -> None:
    order = type("Doc", (), {"status": "partially_allocated",
                             "get_status_display": lambda self: "Partially allocated"})()
    rendered = Template("{% load formats %}{% status_badge doc %}").render(Context({"doc": order}))
    assert ">Partially allocated</span>" in rendered
    assert 'title="partially_allocated"' in rendered and formats.BADGE_PARTIAL in rendered


# --- the reader's clock ----------------------------------------------------------------------------------------


def test_screens_show_times_on_the_clock_of_the_warehouses_in_the_readers_scope(user: Any) -> None:
    move = StockMove.objects.filter(warehouse__code="NE-BOS").order_by("-created_at", "-id").first()
    assert move is not None
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        new_york = formats.datetime_text(move.created_at)
    assert new_york.endswith((" EST", " EDT"))
    utc = move.created_at.astimezone(dt.UTC).strftime(formats.DATETIME_FORMAT)
    ne_page = signed_in(user, "ne.operator").get("/stock/moves/", {"warehouse": "NE-BOS"}).content.decode()
    assert cells(ne_page, "When")[0] == new_york
    planner_page = signed_in(user, "planner").get("/stock/moves/", {"warehouse": "NE-BOS"}).content.decode()
    assert cells(planner_page, "When")[0] == f"{utc} UTC"


# --- the work queues use the same columns ----------------------------------------------------------------------


def test_the_exception_queue_sorts_by_its_columns_and_exports_every_exception_of_its_filter(user: Any) -> None:
    from governance import rules
    from governance.services.exceptions import exceptions_for

    client = signed_in(user, "planner")
    live = exceptions_for(user("planner")).filter(status__in=rules.EXCEPTION_OPEN_STATUSES)
    assert live.exists(), "the demo network raises exceptions for this test to read"
    page = client.get("/governance/exceptions/", {"sort": "-site"}).content.decode()
    head = re.search(r'<th [^>]*data-column="site"[^>]*>', page)
    assert head is not None and 'aria-sort="descending"' in head.group(0)
    assert 'name="sort" value="-site"' in page  # the filters carry the sort into each refresh
    rows = exported(client.get("/governance/exceptions/", {"export": "csv", "sort": "due"}))
    assert rows[0] == ["Exception", "Type", "Severity", "Site", "Owner", "Due", "Status"]
    assert [row[0].split(" ", 1)[0] for row in rows[1:]] == list(
        live.order_by("due_at", "pk").values_list("number", flat=True))
    narrowed = exported(client.get("/governance/exceptions/", {"export": "csv", "warehouse": "NE-BOS"}))
    assert {row[3] for row in narrowed[1:]} <= {"NE-BOS"}


def test_my_approvals_sort_and_export_the_steps_waiting_for_the_reader(user: Any) -> None:
    from governance.services.approvals import approvals_waiting_for

    client = signed_in(user, "approver")
    waiting = approvals_waiting_for(user("approver"))
    page = client.get("/governance/approvals/", {"sort": "-age"})
    assert page.status_code == 200
    head = re.search(r'<th [^>]*data-column="age"[^>]*>', page.content.decode())
    assert head is not None and 'aria-sort="descending"' in head.group(0)
    rows = exported(client.get("/governance/approvals/", {"export": "csv"}))
    assert rows[0][:2] == ["Document", "Amount"] and len(rows) - 1 == waiting.count()


# --- a long export is a background job --------------------------------------------------------------------------


def test_an_export_above_the_threshold_runs_as_a_job_that_writes_what_the_list_would_stream(user: Any,
                                                                                           settings: Any) -> None:
    from erp.csv_jobs import csv_job_run
    from erp.models import CsvJob

    client = signed_in(user, "ne.operator")
    params = {"export": "csv", "warehouse": "NE-BOS", "sort": "-sku"}
    streamed = b"".join(client.get("/stock/moves/", params).streaming_content).decode()
    assert streamed.count("\n") - 1 == StockMove.objects.filter(warehouse__code="NE-BOS").count() > 3

    settings.CSV_JOB_THRESHOLD_ROWS = 3
    answer = client.get("/stock/moves/", params)
    assert answer.status_code == 302
    job = CsvJob.objects.get(user__username="ne.operator", direction="export")
    assert answer["Location"] == f"/data/jobs/{job.pk}/"
    assert job.params["list_path"] == "/stock/moves/" and "warehouse=NE-BOS" in job.params["query"]
    assert job.rows_total == streamed.count("\n") - 1

    csv_job_run(job_id=job.pk)  # what the worker runs
    job.refresh_from_db()
    assert job.status == "done" and job.rows_done == job.rows_total
    assert job.content == streamed  # same rows, order and clock (New York) as the list's own export
    download = client.get(f"/data/jobs/{job.pk}/download.csv")
    assert download.status_code == 200 and download.content.decode() == streamed
    assert signed_in(user, "planner").get(f"/data/jobs/{job.pk}/").status_code == 404
