"""Server-side prepared statements for the few statements every order runs: parsed and planned once per
database connection instead of once per call.

psycopg2 sends each statement as text, so PostgreSQL parses, analyses and plans it every time; for the
statements of a confirm (the draft's read, the stock lock, the order's move with its lines and allocations,
the reservation) that was about a fifth of the server's time per order. ``execute`` prepares a statement the
first time a connection runs it (``PREPARE``, which a rolled-back transaction does not undo) and
``EXECUTE``s it from then on; after five runs PostgreSQL keeps a generic plan when it costs no more than the
custom ones. A schema change makes PostgreSQL re-plan on its own.

The ``PREPARE`` goes around Django's cursor wrapper (still through its error translation), so query counts
and captured queries show the statements a command runs, not the one-off preparation of a connection.
Needs a session of its own per connection: a pooler in transaction mode would hand the statement to a session
that never prepared it (``DATABASE_URL`` must reach PostgreSQL directly or through a session-mode pool).

For this project's own constant SQL only: ``%s`` placeholders, each cast where its value may be an array
(``%s::bigint[]``), and no ``%`` otherwise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from django.db.backends.utils import CursorWrapper

# A placeholder and the cast right after it, which EXECUTE repeats so an array of NULLs keeps its type.
_PLACEHOLDER = re.compile(r"%s((?:::[a-z_]+(?:\[\])?)?)")


def _statements(cursor: CursorWrapper) -> dict[str, str]:
    """The statements prepared on the connection ``cursor`` uses (a new connection starts with none)."""
    wrapper = cursor.db
    raw = wrapper.connection
    known: tuple[Any, dict[str, str]] | None = wrapper.__dict__.get("_concord_prepared")
    if known is None or known[0] is not raw:
        known = (raw, {})
        wrapper.__dict__["_concord_prepared"] = known
    return known[1]


def execute(cursor: CursorWrapper, sql: str, params: Sequence[Any]) -> None:
    """Run ``sql`` with ``params`` as a statement prepared on ``cursor``'s connection (preparing it first)."""
    prepared = _statements(cursor)
    casts = [match.group(1) for match in _PLACEHOLDER.finditer(sql)]
    if len(casts) != len(params):
        raise ValueError(f"{len(params)} values for {len(casts)} placeholders in {sql[:80]!r}")
    name = prepared.get(sql)
    if name is None:
        name = f"concord_{hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()}"
        numbers = iter(range(1, len(casts) + 1))
        body = _PLACEHOLDER.sub(lambda match: f"${next(numbers)}{match.group(1)}", sql)
        with cursor.db.wrap_database_errors:
            cursor.cursor.execute(f"PREPARE {name} AS {body}")
        prepared[sql] = name
    arguments = ", ".join(f"%s{cast}" for cast in casts)
    cursor.execute(f"EXECUTE {name}({arguments})", params)
