"""CSV imports and exports that run as a background job, with progress a page can poll.

A file of more than ``settings.CSV_JOB_THRESHOLD_ROWS`` rows is not imported or exported inside the
request: ``csv_job_start`` records a ``CsvJob`` and, after commit, a worker runs ``csv_job_run``. The
import keeps its contract (``erp.csv_exchange``): ONE transaction, all or nothing, every row's errors
in one pass; a preview job is the same dry run the synchronous preview does. While that transaction
is open nothing it writes is visible, so the job's ``rows_done`` is written through a second,
autocommitting connection every ``PROGRESS_EVERY`` rows: the poller sees progress, and a rolled-back
import leaves no row behind. A job that raises ends ``failed`` with a sentence, never stuck running.

``csv_job_start(kind=..., user=..., direction="export", params=...)`` is also the entry point for a
large export started from elsewhere (a list's filtered rows, later): ``params`` is kept on the job.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from erp.csv_exchange import ImportReport, count_data_rows, export_count, export_csv, import_csv, schema_for
from erp.exceptions import DomainError, NotFound, PermissionDenied
from erp.models import CsvJob

logger = logging.getLogger(__name__)


def needs_job(rows: int) -> bool:
    """Whether ``rows`` rows are too many to handle inside one request."""
    return rows > settings.CSV_JOB_THRESHOLD_ROWS


def csv_job_start(*, kind: str, user: Any, direction: str, content: str = "", filename: str = "",
                  dry_run: bool = False, params: dict[str, Any] | None = None) -> CsvJob:
    """Record a job for ``user`` and run it on a worker after commit.

    Refuses (``PermissionDenied``) what the user could not do synchronously either, so a job never
    starts only to fail on permissions; an unknown kind raises ``UnknownCsvKind``.
    """
    if direction == CsvJob.Direction.EXPORT and (params or {}).get("list_path"):
        # A list's filtered rows (erp.screens): the list checked the permission and counted the rows.
        rows_total = int((params or {}).get("rows", 0))
        with transaction.atomic():
            job = CsvJob.objects.create(user=user, kind=kind, direction=direction, params=params or {},
                                        filename=filename, rows_total=rows_total)
            from erp.tasks import csv_job_run_task

            transaction.on_commit(partial(csv_job_run_task.delay, job_id=job.pk))
        return job
    schema = schema_for(kind, user)
    if direction == CsvJob.Direction.IMPORT:
        if not schema.may_import():
            raise PermissionDenied(f"Your role may not import {kind}.")
        rows_total = count_data_rows(content)
    elif direction == CsvJob.Direction.EXPORT:
        rows_total = export_count(kind, user)
    else:
        raise ValueError(f"unknown CSV job direction {direction!r}")
    with transaction.atomic():
        job = CsvJob.objects.create(user=user, kind=kind, direction=direction, dry_run=dry_run,
                                    params=params or {}, content=content, filename=filename,
                                    rows_total=rows_total)
        from erp.tasks import csv_job_run_task

        transaction.on_commit(partial(csv_job_run_task.delay, job_id=job.pk))
    return job


class _ProgressWriter:
    """Writes a job's ``rows_done`` on its own autocommitting connection (the job's transaction hides its own)."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.connection = connections.create_connection(DEFAULT_DB_ALIAS)

    def __call__(self, rows_done: int) -> None:
        # Raw SQL on purpose: the ORM would write through the thread's connection, inside the open transaction.
        with self.connection.cursor() as cursor:
            cursor.execute(
                "UPDATE erp_csvjob SET rows_done = LEAST(%s, rows_total), updated_at = now() WHERE id = %s",
                [rows_done, self.job_id],
            )

    def close(self) -> None:
        self.connection.close()


def csv_job_run(*, job_id: int) -> CsvJob | None:
    """Run a queued job to ``done`` or ``failed``; a finished job is left alone (safe to run twice).

    A job found ``running`` is run again: its worker was lost, and the import it ran was rolled back.
    """
    with transaction.atomic():
        job = CsvJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.finished:
            return job
        job.status = CsvJob.Status.RUNNING
        job.rows_done = 0
        job.save(update_fields=["status", "rows_done", "updated_at"])
    progress = _ProgressWriter(job.pk)
    try:
        if job.direction == CsvJob.Direction.IMPORT:
            report = import_csv(job.kind, job.content, job.user, dry_run=job.dry_run, progress=progress)
            _finish_import(job, report)
        elif job.params.get("list_path"):
            from erp.screens import list_export_text

            job.content = list_export_text(job.user, job.params["list_path"], job.params.get("query", ""),
                                           progress=progress)
            rows = max(0, len(job.content.splitlines()) - 1)
            job.rows_total = job.rows_done = rows
            job.status = CsvJob.Status.DONE
        else:
            job.content = export_csv(job.kind, job.user, progress=progress)
            rows = max(0, len(job.content.splitlines()) - 1)
            job.rows_total = job.rows_done = rows
            job.status = CsvJob.Status.DONE
    except DomainError as exc:
        job.refresh_from_db(fields=["rows_done"])
        job.status, job.message = CsvJob.Status.FAILED, exc.message
    except Exception:
        logger.exception("CSV job %s failed", job.pk)
        job.refresh_from_db(fields=["rows_done"])
        job.status = CsvJob.Status.FAILED
        job.message = "The job stopped on an unexpected error and wrote nothing. Try again, or ask support."
    finally:
        progress.close()
    job.finished_at = timezone.now()
    job.save()
    return job


def _finish_import(job: CsvJob, report: ImportReport) -> None:
    # A row the database refused keeps the action it tried (the report says "create" and why not): count it once,
    # as failed.
    counts = dict.fromkeys(("create", "update", "unchanged", "error"), 0)
    for row in report.rows:
        counts[row.action if row.ok else "error"] += 1
    rows = len(report.rows)
    job.rows_total = job.rows_done = rows
    job.created_count, job.updated_count = counts["create"], counts["update"]
    job.unchanged_count, job.failed_count = counts["unchanged"], counts["error"]
    job.applied = report.applied
    job.status = CsvJob.Status.DONE
    job.message = report.summary()
    job.report = {
        "file_errors": report.file_errors,
        "rows": [{"line": row.line, "key": row.key, "action": row.action, "errors": row.errors}
                 for row in report.rows if row.action != "unchanged" or not row.ok],
    }


def csv_job_for(*, job_id: int, user: Any) -> CsvJob:
    """The job ``job_id`` if ``user`` started it; anyone else's reads as missing."""
    job = CsvJob.objects.filter(pk=job_id, user=user).first()
    if job is None:
        raise NotFound("There is no such job.")
    return job


def csv_jobs_purge(*, older_than: timedelta) -> int:
    """Forget finished jobs (and the files they hold) older than ``older_than``."""
    deleted, _ = CsvJob.objects.filter(
        created_at__lt=timezone.now() - older_than, status__in=[CsvJob.Status.DONE, CsvJob.Status.FAILED]
    ).delete()
    return deleted
