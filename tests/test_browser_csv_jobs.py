"""Issue 12, item 10: a 5,000-row import in a real browser shows its progress bar until it is done."""

from __future__ import annotations

import re
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from erp.celery import app as celery_app
from tests.test_browser import browser, open_page, sign_in  # noqa: F401  (fixtures and helper)
from tests.test_csv_jobs import items_file

pytestmark = [pytest.mark.browser]

JOB_TIMEOUT_MS = 240_000


@pytest.mark.django_db(transaction=True)
def test_a_5000_row_import_shows_a_progress_bar_that_reaches_done_with_its_counts(
    demo: Any, request: Any, live_server: Any
) -> None:
    from playwright.sync_api import expect

    # The worker runs in its own thread, started before Playwright's loop takes this one.
    with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        new_page = request.getfixturevalue("open_page")
        page, watch = new_page(1280, 900)
        sign_in(page, live_server, "admin", "/data/items/import/")
        page.set_input_files("#csv-file", files=[{
            "name": "items-5000.csv", "mimeType": "text/csv", "buffer": items_file(5000, "WEB").encode(),
        }])
        page.get_by_role("button", name="Preview import").click()

        page.wait_for_url(re.compile(r"/data/jobs/\d+/$"))
        expect(page.locator("progress.job-progress")).to_be_visible()
        expect(page.locator("[data-progress]")).to_have_text(re.compile(r"^(?!5000 )[1-9]\d* of 5000 rows$"),
                                                             timeout=JOB_TIMEOUT_MS)
        confirm = page.get_by_role("button", name="Confirm import")
        expect(confirm).to_be_visible(timeout=JOB_TIMEOUT_MS)
        expect(page.locator("[data-counts]")).to_contain_text("5000 to create")
        preview_url = page.url
        confirm.click()

        page.wait_for_url(lambda url: url != preview_url and re.search(r"/data/jobs/\d+/$", url) is not None)
        bar = page.locator("progress.job-progress")
        expect(bar).to_be_visible()
        expect(page.locator("#job-status")).to_have_text("Done", timeout=JOB_TIMEOUT_MS)
        expect(bar).to_have_attribute("value", "5000")
        expect(bar).to_have_attribute("max", "5000")
        expect(page.locator("[data-progress]")).to_have_text("5000 of 5000 rows")
        expect(page.locator("[data-counts]")).to_contain_text("Imported. 5000 created, 0 updated, 0 unchanged.")
        watch.assert_clean(live_server.url)
