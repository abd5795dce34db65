"""Long CSV imports and exports run as background jobs with a progress page (issue 12, item 8)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client
from django.utils import timezone

from erp.celery import app as celery_app
from erp.csv_exchange import PROGRESS_EVERY, import_csv
from erp.csv_jobs import _ProgressWriter, csv_job_run, csv_job_start, csv_jobs_purge
from erp.models import CsvJob
from inventory.models import Item

ITEM_HEADER = "sku,name,category,base_uom,lot_tracked,shelf_life_days,weight_kg,uoms"
WAIT_SECONDS = 240


def items_file(count: int, prefix: str = "JOB") -> str:
    rows = [f"{prefix}-{n:05d},Job item {n},Testing,EA,false,,0.5,CS=6;PL=240" for n in range(count)]
    return "\n".join([ITEM_HEADER, *rows]) + "\n"


def signed_in(account: Any) -> Client:
    client = Client()
    client.force_login(account)
    return client


def job_id_of(response: Any) -> int:
    assert response.status_code == 302, response.content[:500]
    match = re.fullmatch(r"/data/jobs/(\d+)/", response["Location"])
    assert match, response["Location"]
    return int(match.group(1))


def wait_until_finished(job_id: int) -> tuple[CsvJob, list[int]]:
    """Poll the job as its page does; returns the finished job and every rows_done seen on the way."""
    seen: list[int] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        job = CsvJob.objects.get(pk=job_id)
        seen.append(job.rows_done)
        if job.finished:
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {CsvJob.objects.get(pk=job_id).status} after {WAIT_SECONDS}s")


@pytest.mark.django_db(transaction=True)
def test_a_5000_row_import_is_previewed_and_imported_by_a_worker_with_progress_to_done(user):
    admin = user("admin")
    client = signed_in(admin)
    before = Item.objects.count()
    upload = SimpleUploadedFile("items.csv", items_file(5000).encode(), content_type="text/csv")

    with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        preview_id = job_id_of(client.post("/data/items/import/", {"file": upload}))
        preview, seen = wait_until_finished(preview_id)
        assert preview.status == CsvJob.Status.DONE, preview.message
        assert preview.dry_run and not preview.applied
        assert (preview.rows_done, preview.rows_total, preview.created_count) == (5000, 5000, 5000)
        assert Item.objects.count() == before  # a preview writes nothing
        page = client.get(f"/data/jobs/{preview_id}/").content.decode()
        assert "Confirm import" in page and "5000 to create" in page

        import_id = job_id_of(client.post(f"/data/jobs/{preview_id}/confirm/"))
        job, seen = wait_until_finished(import_id)

    assert job.status == CsvJob.Status.DONE, job.message
    assert job.applied and not job.dry_run
    assert (job.rows_done, job.rows_total) == (5000, 5000)
    assert (job.created_count, job.updated_count, job.unchanged_count, job.failed_count) == (5000, 0, 0, 0)
    assert seen == sorted(seen) and seen[-1] == 5000
    assert Item.objects.count() == before + 5000
    assert job.finished_at is not None
    page = client.get(f"/data/jobs/{import_id}/progress/").content.decode()
    assert "Imported. 5000 created, 0 updated" in page
    assert "hx-trigger" not in page  # a finished job stops the polling


@pytest.mark.django_db(transaction=True)
def test_progress_is_committed_while_the_import_transaction_is_still_open(user):
    """What the poller relies on: every chunk's rows_done is visible to another connection mid-import."""
    admin = user("admin")
    job = CsvJob.objects.create(user=admin, kind="items", direction="import", rows_total=1000)
    writer = _ProgressWriter(job.pk)
    observer = connections.create_connection(DEFAULT_DB_ALIAS)
    seen: list[int] = []

    def progress(rows_done: int) -> None:
        writer(rows_done)
        with observer.cursor() as cursor:
            cursor.execute("SELECT rows_done FROM erp_csvjob WHERE id = %s", [job.pk])
            seen.append(cursor.fetchone()[0])

    try:
        report = import_csv("items", items_file(1000, "MID"), admin, progress=progress)
    finally:
        writer.close()
        observer.close()

    assert report.applied
    assert seen == list(range(PROGRESS_EVERY, 1001, PROGRESS_EVERY))


@pytest.mark.django_db
def test_the_polled_part_shows_the_bar_with_its_values_and_keeps_polling_until_finished(user):
    admin = user("admin")
    job = CsvJob.objects.create(user=admin, kind="items", direction="import", rows_total=5000, rows_done=1250,
                                status=CsvJob.Status.RUNNING)
    part = signed_in(admin).get(f"/data/jobs/{job.pk}/progress/").content.decode()

    assert re.search(r'<progress[^>]*max="5000" value="1250"', part)
    assert "1250 of 5000 rows" in part
    assert f'hx-get="/data/jobs/{job.pk}/progress/" hx-trigger="every 1s"' in part


@pytest.mark.django_db
def test_another_user_cannot_see_open_confirm_or_download_a_job(user):
    job = csv_job_start(kind="items", user=user("admin"), direction="import", content=items_file(300),
                        dry_run=True)
    csv_job_run(job_id=job.pk)
    other = signed_in(user("planner"))

    for path in ("", "progress/", "download.csv"):
        assert other.get(f"/data/jobs/{job.pk}/{path}").status_code == 404
    assert other.post(f"/data/jobs/{job.pk}/confirm/").status_code == 404
    assert CsvJob.objects.count() == 1


@pytest.mark.django_db
def test_a_row_with_three_bad_fields_reports_all_three_at_once_in_the_job(user):
    admin = user("admin")
    bad = "BAD-00001,Bad item,Testing,ZZZ,maybe,,heavy,CS=6"
    text = items_file(299, "OK") + bad + "\n"
    job = csv_job_start(kind="items", user=admin, direction="import", content=text, dry_run=True)

    job = csv_job_run(job_id=job.pk)

    assert job is not None and job.status == CsvJob.Status.DONE
    assert job.failed_count == 1 and job.created_count == 299
    (row,) = [row for row in job.report["rows"] if row["errors"]]
    assert row["line"] == 301 and row["key"] == "BAD-00001"
    assert set(row["errors"]) == {"base_uom", "lot_tracked", "weight_kg"}
    assert "Unknown unit of measure 'ZZZ'." in row["errors"]["base_uom"]
    download = signed_in(admin).get(f"/data/jobs/{job.pk}/download.csv").content.decode()
    assert download.count("BAD-00001") == 3


@pytest.mark.django_db
def test_a_repeated_key_is_reported_beside_the_rows_other_errors(user):
    text = "\n".join([ITEM_HEADER, "DUP-1,One,Testing,EA,false,,1,", "DUP-1,Two,Testing,EA,maybe,,1,"]) + "\n"
    report = import_csv("items", text, user("admin"), dry_run=True)

    assert set(report.rows[1].errors) == {"sku", "lot_tracked"}


@pytest.mark.django_db
def test_a_database_refusal_in_a_job_reads_as_its_field_and_a_sentence_and_nothing_is_written(user):
    rows = [f"CON-{n:04d},Item {n},Testing,EA,false,,1," for n in range(250)]
    # Zero passes the field's own validation; only the database's item_shelf_life_range check refuses it.
    text = "\n".join([ITEM_HEADER, *rows, "CON-ZERO,Zero shelf life,Testing,EA,true,0,1,"]) + "\n"
    job = csv_job_start(kind="items", user=user("admin"), direction="import", content=text)

    job = csv_job_run(job_id=job.pk)

    assert job is not None and job.status == CsvJob.Status.DONE and not job.applied, job.message
    assert (job.failed_count, job.created_count) == (1, 250), (job.message, job.report["rows"][-1])
    assert not Item.objects.filter(sku__startswith="CON-").exists()  # all or nothing
    (row,) = [row for row in job.report["rows"] if row["errors"]]
    assert list(row["errors"]) == ["shelf_life_days"]
    assert row["action"] == "create"  # what it tried, refused
    assert row["errors"]["shelf_life_days"] == ["The shelf life days of the item is not allowed: check the value."]


@pytest.mark.django_db
def test_a_job_that_cannot_run_ends_failed_with_a_sentence_not_stuck_running(user):
    account = get_user_model().objects.create_user("demoted", password="x", is_superuser=True)
    job = csv_job_start(kind="items", user=account, direction="import", content=items_file(300, "NOPE"))
    get_user_model().objects.filter(pk=account.pk).update(is_superuser=False)

    job = csv_job_run(job_id=job.pk)

    assert job is not None
    job.refresh_from_db()
    assert job.status == CsvJob.Status.FAILED
    assert job.message == "Your role may not import items."
    assert job.finished_at is not None
    assert not Item.objects.filter(sku__startswith="NOPE-").exists()
    assert csv_job_run(job_id=job.pk) == job  # run twice: a finished job is left alone
    page = signed_in(account).get(f"/data/jobs/{job.pk}/").content.decode()
    assert "Your role may not import items." in page and "hx-trigger" not in page


@pytest.mark.django_db
def test_a_small_file_is_still_previewed_at_once_without_a_job(user):
    upload = SimpleUploadedFile("items.csv", items_file(5).encode(), content_type="text/csv")
    response = signed_in(user("admin")).post("/data/items/import/", {"file": upload})

    assert response.status_code == 200 and "Confirm import" in response.content.decode()
    assert not CsvJob.objects.exists()


@pytest.mark.django_db
def test_a_large_export_is_prepared_as_a_job_and_downloaded(user, settings):
    settings.CSV_JOB_THRESHOLD_ROWS = 3
    admin = user("admin")
    client = signed_in(admin)
    offer = client.get("/data/items/export.csv")
    assert offer.status_code == 200 and "Prepare the file" in offer.content.decode()

    job_id = job_id_of(client.post("/data/items/export.csv"))
    job = csv_job_run(job_id=job_id)

    assert job is not None and job.status == CsvJob.Status.DONE
    assert job.rows_done == job.rows_total == Item.objects.count()
    download = client.get(f"/data/jobs/{job_id}/download.csv")
    assert download["Content-Type"].startswith("text/csv")
    lines = download.content.decode().splitlines()
    assert lines[0] == ITEM_HEADER and len(lines) == Item.objects.count() + 1


@pytest.mark.django_db
def test_finished_jobs_older_than_their_time_to_live_are_purged(user):
    admin = user("admin")
    old = CsvJob.objects.create(user=admin, kind="items", direction="export", status=CsvJob.Status.DONE,
                                created_at=timezone.now() - timedelta(days=8))
    running = CsvJob.objects.create(user=admin, kind="items", direction="import", status=CsvJob.Status.RUNNING,
                                    created_at=timezone.now() - timedelta(days=8))
    recent = CsvJob.objects.create(user=admin, kind="items", direction="export", status=CsvJob.Status.DONE)

    assert csv_jobs_purge(older_than=timedelta(days=7)) == 1
    assert set(CsvJob.objects.values_list("pk", flat=True)) == {running.pk, recent.pk}
    assert not CsvJob.objects.filter(pk=old.pk).exists()
