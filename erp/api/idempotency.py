"""``Idempotency-Key`` on creating POSTs: one document per user and key, whatever the timing.

The key is claimed by inserting its row in the same transaction as the document. A second
request with the same key blocks on the unique index until the first commits, then finds the
row and replays the stored response (or gets 409 when its body differs). When the first fails,
its claim rolls back with it and the key is free again: only successful responses are stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from erp.exceptions import IdempotencyMismatch, ValidationFailed
from erp.models import IdempotencyKey
from erp.transactions import joined_command, run_command

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class _RollBack(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def request_fingerprint(request: Any) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(row: IdempotencyKey, fingerprint: str) -> Response:
    if row.request_hash != fingerprint:
        raise IdempotencyMismatch(detail={"idempotency_key": row.key})
    response = Response(row.response_body, status=row.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request: Any, produce: Callable[[], Response]) -> Response:
    """Run ``produce`` (validation plus a service call) at most once per user and key."""
    key = request.headers.get(HEADER)
    if key is None:
        return produce()
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        # Control characters (a NUL above all, which PostgreSQL cannot store) are refused up front.
        raise ValidationFailed(
            detail={HEADER: [f"Send 1 to {MAX_KEY_LENGTH} printable characters, such as a UUID."]}
        )
    fingerprint = request_fingerprint(request)
    user_id = request.user.pk

    def attempt() -> Response:
        with connection.cursor() as cur:
            cur.execute(
                """
                INSERT INTO erp_idempotencykey
                    (user_id, key, method, path, request_hash, status_code, response_body, created_at)
                VALUES (%s, %s, %s, %s, %s, 0, 'null'::jsonb, now())
                ON CONFLICT (user_id, key) DO NOTHING
                RETURNING id
                """,
                [user_id, key, request.method, request.path[:500], fingerprint],
            )
            claimed = cur.fetchone()
        if claimed is None:
            return _replay(IdempotencyKey.objects.get(user_id=user_id, key=key), fingerprint)
        with joined_command():
            response = produce()
        if not 200 <= response.status_code < 300:
            raise _RollBack(response)
        body = json.loads(JSONRenderer().render(response.data) or b"null")
        IdempotencyKey.objects.filter(pk=claimed[0]).update(status_code=response.status_code, response_body=body)
        return response

    try:
        return run_command(attempt, actor=request.user)
    except _RollBack as rolled_back:
        return rolled_back.response
