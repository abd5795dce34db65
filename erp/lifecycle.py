"""What every document shares: a number from its own id sequence, and moves along its transitions table.

Each app keeps its lifecycle as data in its ``rules.py`` (a transitions table and a ``*_may_move``
function) and its own 409 error type; these two functions are the mechanics around them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection, models

from erp.exceptions import DomainError

D = TypeVar("D", bound=models.Model)


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
    number, status = document.number, document.status
    if not may_move(status, to_status):
        raise refused(f"{number} is {status}; it cannot become {to_status}.",
                      detail={"number": number, "status": status, "to": to_status})
    document.status = to_status
    for name, value in fields.items():
        setattr(document, name, value)
    document.save(update_fields=["status", *fields, "updated_at"])
    return document
