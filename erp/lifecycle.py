"""What every document shares: a number from its own id sequence, and moves along its transitions table.

Each app keeps its lifecycle as data in its ``rules.py`` (a transitions table and a ``*_may_move``
function) and its own 409 error type; these two functions are the mechanics around them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

from erp import prepared
from erp.exceptions import DomainError

D = TypeVar("D", bound=models.Model)

# A statement that goes ``along`` with a move (``document_move_from``) puts this condition in its ``WHERE``, so it
# writes nothing unless the move is made.
IF_MOVED = "EXISTS (SELECT FROM document_moved)"


def next_document_id(model: type[models.Model]) -> int:
    """The next id of ``model``'s table, taken before the insert so the document's number can carry it.

    The id sequence numbers the document: gap-tolerant, never reused, and lock-free.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [model._meta.db_table])
        return int(cursor.fetchone()[0])


def document_move(document: D, to_status: str, *, may_move: Callable[[str, str], bool],
                  refused: type[DomainError], **fields: Any) -> D:
    """Move a locked ``document`` (with ``number`` and ``status``) to ``to_status`` and save ``fields`` with it.

    A move ``may_move`` does not allow raises ``refused`` (a 409) naming the document, where it is and where
    it was asked to go; nothing is saved.
    """
    number, status = document.number, document.status  # type: ignore[attr-defined]  # a document model has both
    if not may_move(status, to_status):
        raise refused(f"{number} is {status}; it cannot become {to_status}.",
                      detail={"number": number, "status": status, "to": to_status})
    document.status = to_status  # type: ignore[attr-defined]  # a document model has a status
    for name, value in fields.items():
        setattr(document, name, value)
    document.save(update_fields=["status", *fields, "updated_at"])
    return document


def _column(document: models.Model, name: str) -> str:
    field = document._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{name} is not a column of {document._meta.label}")
    return field.column


def document_move_from(document: D, from_status: str, to_status: str, *, may_move: Callable[[str, str], bool],
                       refused: type[DomainError], along: Sequence[tuple[str, Sequence[Any]]] = (),
                       **fields: Any) -> D:
    """Move ``document`` from ``from_status`` to ``to_status`` with ``fields`` in one ``UPDATE ... WHERE status``:
    the statement takes the row's lock and checks the status under it, so a command that locks its stock
    first needs no separate read-and-lock of the document (one round trip, where ``document_move`` after a
    ``select_for_update`` takes two).

    The move must be one ``may_move`` allows. When the document is no longer in ``from_status`` (another
    command moved it first: PostgreSQL re-reads a row a concurrent transaction committed), nothing is written
    and ``refused`` (a 409) says where it is now.

    ``along``: the command's writes that belong with the move, as ``(sql, params)`` of ``INSERT``s and
    ``UPDATE``s whose ``WHERE`` holds ``IF_MOVED``. They run in the move's statement (data-modifying ``WITH``
    clauses, one round trip in all) and write nothing when the move is refused. Each takes its own row locks:
    only rows of the document itself (its lines, its new children), which follow it in the lock order.
    """
    number = document.number  # type: ignore[attr-defined]  # a document model has a number
    if not may_move(from_status, to_status):
        raise refused(f"{number} is {from_status}; it cannot become {to_status}.",
                      detail={"number": number, "status": from_status, "to": to_status})
    meta = document._meta
    quote = connection.ops.quote_name
    values = {"status": to_status, **fields}
    columns = [_column(document, name) for name in values]
    pk_column = _column(document, "id")
    move = (f"UPDATE {quote(meta.db_table)} SET {', '.join(f'{quote(c)} = %s' for c in columns)}, "
            f"{quote('updated_at')} = now() WHERE {quote(pk_column)} = %s AND {quote('status')} = %s")  # nosec B608 # identifiers come from the model's meta, values are bound
    params: list[Any] = [*values.values(), document.pk, from_status]
    with connection.cursor() as cursor:
        if along:
            unguarded = [statement for statement, _ in along if IF_MOVED not in statement]
            if unguarded:
                raise ValueError(f"a statement along with a move must hold {IF_MOVED}: {unguarded[0][:80]}")
            withs = ", ".join(f"along_{n} AS ({statement})" for n, (statement, _) in enumerate(along))
            prepared.execute(cursor, f"WITH document_moved AS ({move} RETURNING 1), {withs} "
                             "SELECT count(*) FROM document_moved",  # nosec B608 # the move above and the caller's statements; values are bound
                             [*params, *(value for _, values_ in along for value in values_)])
            moved = cursor.fetchone()[0] == 1
        else:
            cursor.execute(move, params)
            moved = cursor.rowcount == 1
        if not moved:
            cursor.execute(f"SELECT {quote('status')} FROM {quote(meta.db_table)} "
                           f"WHERE {quote(pk_column)} = %s",  # nosec B608 # identifiers come from the model's meta
                           [document.pk])
            row = cursor.fetchone()
    if not moved:
        now_status = row[0] if row else "gone"
        raise refused(f"{number} is {now_status}; only a {from_status} one can become {to_status}.",
                      detail={"number": number, "status": now_status})
    for name, value in values.items():
        setattr(document, name, value)
    return document
