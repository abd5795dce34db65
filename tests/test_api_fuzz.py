"""Schemathesis holds the API to its OpenAPI schema: every operation, as an enterprise and a region-scoped user.

A bounded, derandomized run (a few generated cases per operation, no shrinking) calls each operation of
``/api/schema/`` in-process through the WSGI app with a real token, and checks what the schema promises:
no 5xx, only documented status codes and content types, and bodies that match their documented schema.
Each operation gets valid input (positive), invalid input (negative: "never 500 for bad input") and, when
it acts on one object, the key of an object that exists, so it gets past the 404.

The run works on committed data (``transactional_db``), as the server does: services open durable
transactions, and a request that fails must not poison the requests after it.
``DELETE auth/token/revoke/`` gets a throwaway token on every call, so the run never revokes the tokens it
fuzzes with; at the end they must still work, and 401s must be rare.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from erp import services

pytestmark = [pytest.mark.slow]

USERS = ("integrator", "ne.operator")  # all regions; NE-BOS and NE-NYC only
EXAMPLES_PER_RUN = 5
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
REVOKE = ("DELETE", "/api/v1/auth/token/revoke/")

BOUNDED = settings(
    max_examples=EXAMPLES_PER_RUN,
    derandomize=True,  # the same cases on every run
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is collected, not minimised
    suppress_health_check=list(HealthCheck),
)


def _token(username: str, name: str) -> str:
    user = get_user_model().objects.get(username=username)
    return services.api_token_issue(user=user, name=name, actor=user)


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _real_keys(operations: list[Any], token: str) -> dict[str, dict[str, Any]]:
    """For each operation on one object (``/items/{sku}/``, ``/approvals/{id}/approve/``), a key that exists
    and that ``token`` sees: the first one its collection lists."""
    client = _client(token)
    keys: dict[str, dict[str, Any]] = {}
    for operation in operations:
        collection, brace, rest = operation.path.partition("{")
        if not brace:
            continue
        name = rest.split("}", 1)[0]
        response = client.get(collection)
        if response.status_code != 200 or not response["Content-Type"].startswith("application/json"):
            continue
        body = response.json()
        rows = body.get("results", []) if isinstance(body, dict) else body
        if rows and name in rows[0]:
            keys[operation.path] = {name: rows[0][name]}
    return keys


def _excerpt(response: Any) -> str:
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code} {response.text[:500]}"


def _run(strategy: Any, exercise: Callable[[Any], None]) -> None:
    try:
        BOUNDED(given(case=strategy)(exercise))()
    except Unsatisfiable:  # negative mode, and the operation has no input to make invalid
        pass


def test_every_operation_answers_as_its_schema_says(demo: Any, transactional_db: Any) -> None:
    started = time.monotonic()
    app = WSGIHandler()
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app, headers={"Accept": "application/json"})
    operations = [result.ok() for result in schema.get_all_operations()]  # an unreadable operation fails here
    tokens = {username: _token(username, "fuzz") for username in USERS}
    real_keys = _real_keys(operations, tokens[USERS[-1]])  # the narrowest scope: every user sees these

    called: dict[str, set[tuple[str, str]]] = defaultdict(set)
    statuses: Counter[int] = Counter()
    failures: dict[tuple[str, str, str, str], str] = {}
    cases = 0

    def exercise(case: Any) -> None:
        nonlocal cases
        cases += 1
        key = (case.method.upper(), case.operation.path)
        for username in USERS:
            token = _token(username, "fuzz-revoke") if key == REVOKE else tokens[username]
            try:
                response = case.call(app=app, headers={"Authorization": f"Token {token}"})
            except Exception as exc:  # the app raised instead of answering: a 500 to a client
                failures.setdefault((username, *key, "raised"), f"{type(exc).__name__}: {exc}")
                continue
            called[username].add(key)
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as group:
                for failure in group.exceptions:
                    failures.setdefault((username, *key, failure.title), f"{failure}\n{_excerpt(response)}")

    for operation in operations:
        _run(operation.as_strategy(), exercise)
        _run(operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE), exercise)
        if operation.path in real_keys:
            _run(operation.as_strategy(path_parameters=real_keys[operation.path]), exercise)

    calls = sum(statuses.values())
    print(f"\nschemathesis: {len(operations)} operations ({len(real_keys)} also on a real object), {cases} cases, "
          f"{calls} calls as {' and '.join(USERS)} in {time.monotonic() - started:.0f}s; "
          f"statuses {dict(sorted(statuses.items()))}")

    report = "\n\n".join(f"{method} {path} as {username}: {title}\n{message}"
                         for (username, method, path, title), message in sorted(failures.items()))
    assert not failures, f"{len(failures)} answer(s) against the schema:\n\n{report}"

    everything = {(operation.method.upper(), operation.path) for operation in operations}
    assert len(everything) >= 90, len(everything)  # the schema was read whole
    for username in USERS:
        assert called[username] == everything, (username, sorted(everything - called[username]))

    for username, token in tokens.items():
        assert _client(token).get("/api/v1/regions/").status_code == 200, f"{username}'s token was revoked"
    assert statuses[401] <= 0.05 * calls, dict(statuses)
    assert statuses[200] + statuses[201] >= 0.10 * calls, dict(statuses)
