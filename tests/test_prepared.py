"""``erp.prepared``: statements prepared once per connection, answering as the plain statement does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from erp import prepared

pytestmark = pytest.mark.django_db

SQL = ("SELECT v.id, v.quantity, v.lot_id FROM unnest(%s::bigint[], %s::numeric[], %s::bigint[]) "
       "AS v(id, quantity, lot_id) WHERE v.id <> %s ORDER BY v.id")
PARAMS = [[3, 1, 2], [Decimal("1.5"), None, Decimal(2)], [None, None, None], 2]


def _prepared_here(cursor) -> int:
    cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'concord_%%'")
    return int(cursor.fetchone()[0])


def test_a_statement_is_prepared_once_and_answers_as_the_plain_statement():
    with connection.cursor() as cursor:
        cursor.execute(SQL, PARAMS)
        plain = cursor.fetchall()
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        prepared.execute(cursor, SQL, PARAMS)
        assert cursor.fetchall() == plain == [(1, None, None), (3, Decimal("1.5"), None)]
        name = prepared._statements(cursor)[SQL]
        with connection.cursor() as counting:
            once = _prepared_here(counting)
        prepared.execute(cursor, SQL, [[7], [Decimal(1)], [None], 0])
        assert cursor.fetchall() == [(7, Decimal(1), None)]
    with connection.cursor() as cursor:
        assert _prepared_here(cursor) == once
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = %s", [name])
        assert "unnest($1::bigint[], $2::numeric[], $3::bigint[])" in cursor.fetchone()[0]
    # The preparation is not one of the statements counted: each run is one EXECUTE.
    assert [query["sql"].split("(")[0] for query in captured.captured_queries
            if not query["sql"].startswith("SELECT count(*)")] == [f"EXECUTE {name}"] * 2


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again():
    with connection.cursor() as cursor:
        prepared.execute(cursor, SQL, PARAMS)
    connection.close()
    with connection.cursor() as cursor:
        assert _prepared_here(cursor) == 0
        prepared.execute(cursor, SQL, PARAMS)
        assert len(cursor.fetchall()) == 2
        assert _prepared_here(cursor) == 1


def test_values_must_match_the_placeholders():
    with connection.cursor() as cursor, pytest.raises(ValueError, match="3 values for 4 placeholders"):
        prepared.execute(cursor, SQL, PARAMS[:3])
