"""Screens of the CSV exchange: a scoped download, and an upload that previews before it writes.

The import is two steps. Uploading runs the import as a dry run and shows every row with its
action and errors. Only a preview without errors offers "Confirm import"; the previewed text is
kept in the session under its SHA-256 digest, and the confirm form sends the digest back, so the
file applied is byte for byte the file previewed (a second upload in another tab replaces it and
the older confirm is refused). Confirming runs the real import, which still writes nothing if
the data changed meanwhile and a row now fails.

A file of more than ``settings.CSV_JOB_THRESHOLD_ROWS`` rows takes the same two steps as background
jobs (``erp.csv_jobs``): the upload starts a preview job, its page polls a progress bar and ends on
the preview; "Confirm import" there starts the import job from the very text previewed (kept on the
job). An export of more rows offers to prepare the file in the background, then to download it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from erp import csv_jobs
from erp.csv_exchange import (
    MAX_ROWS,
    CsvSchema,
    ImportReport,
    UnknownCsvKind,
    count_data_rows,
    export_count,
    export_csv,
    import_csv,
    schema_for,
)
from erp.exceptions import NotFound
from erp.models import CsvJob

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_ROWS_SHOWN = 1000
SESSION_KEY = "csv_import_pending"
TEMPLATE = "csv/import.html"


def _schema(request: HttpRequest, kind: str) -> CsvSchema:
    try:
        return schema_for(kind, request.user)
    except UnknownCsvKind as exc:
        raise Http404(exc.message) from exc


@login_required
@require_http_methods(["GET", "POST"])
def export_view(request: HttpRequest, kind: str) -> HttpResponse:
    """The rows of ``kind`` in the user's scope as a CSV download; needs the model's view permission.

    Above the job threshold a GET offers to prepare the file in the background and a POST starts that job.
    """
    schema = _schema(request, kind)
    if not schema.may_export():
        raise PermissionDenied
    if request.method == "POST":
        job = csv_jobs.csv_job_start(kind=kind, user=request.user, direction=CsvJob.Direction.EXPORT)
        return HttpResponseRedirect(reverse("csv:job", args=[job.pk]))
    rows = export_count(kind, request.user)
    if csv_jobs.needs_job(rows):
        return render(request, "csv/export_large.html",
                      {"kind": kind, "rows": rows, "title": f"Export {schema.title.lower() or kind}"})
    response = HttpResponse(export_csv(kind, request.user), content_type="text/csv; charset=utf-8")
    filename = f"{kind}-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest, kind: str) -> HttpResponse:
    """Upload (preview) and confirm; needs add and change permission on the model."""
    schema = _schema(request, kind)
    if not schema.may_import():
        raise PermissionDenied
    context: dict[str, Any] = {
        "kind": kind,
        "title": f"Import {schema.title.lower() or kind}",
        "columns": ",".join(schema.columns),
        "max_rows": f"{MAX_ROWS:,}",
        "may_export": schema.may_export(),
        "job_threshold": f"{settings.CSV_JOB_THRESHOLD_ROWS:,}",
    }
    if request.method == "GET":
        return render(request, TEMPLATE, context)
    if "digest" in request.POST:
        return _confirm(request, kind, context)
    return _preview(request, kind, context)


def _preview(request: HttpRequest, kind: str, context: dict[str, Any]) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        context["form_error"] = "Choose a CSV file to upload."
        return render(request, TEMPLATE, context, status=400)
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        context["form_error"] = f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it."
        return render(request, TEMPLATE, context, status=400)
    content = upload.read()
    if csv_jobs.needs_job(count_data_rows(content)):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass  # the synchronous preview below reports the undecodable byte and stops at once
        else:
            job = csv_jobs.csv_job_start(kind=kind, user=request.user, direction=CsvJob.Direction.IMPORT,
                                         content=text, filename=upload.name or "", dry_run=True)
            return HttpResponseRedirect(reverse("csv:job", args=[job.pk]))
    report = import_csv(kind, content, request.user, dry_run=True)
    pending = request.session.get(SESSION_KEY, {})
    pending.pop(kind, None)
    if report.ok:
        text = content.decode("utf-8-sig")  # a clean report means the bytes decoded
        digest = hashlib.sha256(text.encode()).hexdigest()
        pending[kind] = {"digest": digest, "content": text, "filename": upload.name}
        context["digest"] = digest
    request.session[SESSION_KEY] = pending
    context["filename"] = upload.name
    return render(request, TEMPLATE, _with_report(context, report))


def _confirm(request: HttpRequest, kind: str, context: dict[str, Any]) -> HttpResponse:
    pending = request.session.get(SESSION_KEY, {})
    entry = pending.get(kind)
    if entry is None or entry["digest"] != request.POST["digest"]:
        context["form_error"] = "The previewed file is no longer available; upload it again."
        return render(request, TEMPLATE, context, status=400)
    report = import_csv(kind, entry["content"], request.user, dry_run=False)
    del pending[kind]
    request.session[SESSION_KEY] = pending
    context["filename"] = entry["filename"]
    context["confirmed"] = True
    return render(request, TEMPLATE, _with_report(context, report))


def _with_report(context: dict[str, Any], report: ImportReport) -> dict[str, Any]:
    interesting = [row for row in report.rows if row.action != "unchanged" or not row.ok]
    context.update(
        report=report,
        counts=report.counts(),
        shown_rows=interesting[:MAX_ROWS_SHOWN],
        hidden_rows=len(interesting) - min(len(interesting), MAX_ROWS_SHOWN),
    )
    return context


def _job(request: HttpRequest, job_id: int) -> CsvJob:
    try:
        return csv_jobs.csv_job_for(job_id=job_id, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _job_context(job: CsvJob) -> dict[str, Any]:
    rows = job.report.get("rows", []) if job.report else []
    return {
        "job": job,
        "kind": job.kind,
        "title": f"{'Preview of the import' if job.dry_run else job.get_direction_display()} of {job.kind}",
        "file_errors": (job.report or {}).get("file_errors", []),
        "shown_rows": rows[:MAX_ROWS_SHOWN],
        "hidden_rows": max(0, len(rows) - MAX_ROWS_SHOWN),
        "error_rows": [row for row in rows if row["errors"]],
    }


@login_required
@require_GET
def job_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """A job's page: its progress bar while it runs, its result once done. Only its user sees it."""
    return render(request, "csv/job.html", _job_context(_job(request, job_id)))


@login_required
@require_GET
def job_progress_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """The part of the job's page that htmx polls; once the job is finished it stops asking."""
    return render(request, "csv/_job.html", _job_context(_job(request, job_id)))


@login_required
@require_http_methods(["POST"])
def job_confirm_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """Import exactly the text a clean preview job checked, as a new job."""
    preview = _job(request, job_id)
    if not (preview.dry_run and preview.status == CsvJob.Status.DONE and preview.failed_count == 0
            and not (preview.report or {}).get("file_errors")):
        context = _job_context(preview)
        context["form_error"] = "Only a preview without errors can be imported."
        return render(request, "csv/job.html", context, status=400)
    job = csv_jobs.csv_job_start(kind=preview.kind, user=request.user, direction=CsvJob.Direction.IMPORT,
                                 content=preview.content, filename=preview.filename)
    return HttpResponseRedirect(reverse("csv:job", args=[job.pk]))


@login_required
@require_GET
def job_download_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """A finished export's file, or an import's rows with errors (line, key, column, message)."""
    job = _job(request, job_id)
    if job.status != CsvJob.Status.DONE:
        raise Http404("The job has no file yet.")
    if job.direction == CsvJob.Direction.EXPORT:
        body, name = job.content, f"{job.kind}-{timezone.localdate():%Y%m%d}.csv"
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["line", "key", "column", "error"])
        for row in job.report.get("rows", []):
            for column, messages in row["errors"].items():
                for message in messages:
                    writer.writerow([row["line"], row["key"], column, message])
        body, name = out.getvalue(), f"{job.kind}-errors-{job.pk}.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
