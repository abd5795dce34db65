"""Generations: a number that changes whenever any of a set of tables changes, so that a process may keep
what it read from them and know, with one cheap read, whether what it keeps still holds.

A generation has a name (``allocation_plan``). Its number is a row of ``erp_generation`` that a statement
trigger, ``concord_bump_generation(name)``, renews on every insert, update, delete or truncate of each table
the generation watches, whatever made the change (a service, the admin, a migration, raw SQL). Numbers come
from one sequence and are never reused, so a rolled-back change or a flushed test database can never bring
back a number a process already saw; no row at all means "unknown", and nothing is kept.

The app that keeps the cache installs the triggers (``watch_sql``) in a migration of its own and reads the
number in the transaction that uses the cache (``current``, or a column of a query it makes anyway).
"""

from __future__ import annotations

from django.db import connection

TABLE = "erp_generation"


def watch_sql(name: str, table: str) -> str:
    """The SQL that makes every change to ``table`` renew the generation ``name``."""
    trigger = f"concord_generation_{name}"
    return (f'CREATE OR REPLACE TRIGGER "{trigger}" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
            f"FOR EACH STATEMENT EXECUTE FUNCTION concord_bump_generation('{name}')")


def start_sql(name: str) -> str:
    """The SQL that gives the generation ``name`` its first number (run once the triggers are in place)."""
    return (f"INSERT INTO {TABLE} (name, value) VALUES ('{name}', nextval('erp_generation_value_seq')) "  # nosec B608 # the name is a migration's constant
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value")


def unwatch_sql(name: str, table: str) -> str:
    return f'DROP TRIGGER IF EXISTS "concord_generation_{name}" ON "{table}"'


def current_sql(name: str) -> str:
    """A scalar subquery giving the generation's number (NULL when unknown), to fold into another query."""
    return f"(SELECT value FROM {TABLE} WHERE name = '{name}')"  # nosec B608 # the name is the caller's constant


def current(name: str) -> int | None:
    """The generation's number as this transaction sees it, or None when unknown (then keep nothing)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {current_sql(name)}")  # nosec B608 # built from the caller's constant name
        row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])
