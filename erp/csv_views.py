"""Screens of the CSV exchange: a scoped download, and an upload that previews before it writes.

The import is two steps. Uploading runs the import as a dry run and shows every row with its
action and errors. Only a preview without errors offers "Confirm import"; the previewed text is
kept in the session under its SHA-256 digest, and the confirm form sends the digest back, so the
file applied is byte for byte the file previewed (a second upload in another tab replaces it and
the older confirm is refused). Confirming runs the real import, which still writes nothing if
the data changed meanwhile and a row now fails.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from erp.csv_exchange import MAX_ROWS, CsvSchema, ImportReport, UnknownCsvKind, export_csv, import_csv, schema_for

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
@require_GET
def export_view(request: HttpRequest, kind: str) -> HttpResponse:
    """The rows of ``kind`` in the user's scope as a CSV download; needs the model's view permission."""
    schema = _schema(request, kind)
    if not schema.may_export():
        raise PermissionDenied
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
