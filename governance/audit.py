"""The audit trail: which tables carry the ``concord_audit`` trigger, and who may read which events.

Every insert, update and delete on an audited table is recorded by the database trigger
``concord_audit(warehouse_column, region_column)`` (migration ``governance.0002``), so model saves,
bulk ``queryset.update()`` and raw SQL are captured alike. The actor and request id come from the
transaction settings ``erp.transactions.stamp_transaction`` writes for each ``@command``; a write
outside a service is still recorded, with no actor.

The trigger copies the row's own site columns into the event, so an event is scoped like the row:
- a site-scoped table (``warehouse_id`` and/or ``region_id`` on the row) gives events of that site;
- enterprise master data (``ScopedBy.enterprise()``: items, suppliers, policies) gives events with
  neither, which every reader with ``governance.view_auditevent`` may see;
- a table whose scope the row cannot tell (a path through a parent, a legal entity, the users and
  their grants) is *restricted*: its events are shown to enterprise-scope readers only, so the
  trail never shows a regional reader a row they could not see in the first place;
- so is every table in ``ENTERPRISE_READERS_ONLY`` (delegations, users and grants): enterprise by
  its scope rule, or by no rule, but not meant for every reader.
The one read selector, ``audit_events_for``, applies both rules (the API, the screens and the admin
read through it).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models
from django.db.models import QuerySet

from erp.scoping import ScopedBy, scope_of, scope_queryset

TRIGGER_NAME = "concord_audit"

# The apps whose every table is audited (a test fails when one of their tables has no trigger).
AUDITED_APPS = ("warehouses", "inventory", "orders", "procurement", "finance", "governance")

# Tables of those apps deliberately left out, each with its reason.
EXCLUDED_MODELS: dict[str, str] = {
    "governance.auditevent": "the trail itself (append-only; auditing it would recurse)",
    "governance.notification": "the outbox: delivery bookkeeping (attempts, sent_at) of a notification whose "
                               "cause, the exception and its escalation, is audited",
    "inventory.itemabcclass": "a classification derived from the (audited) ledger and recomputed in bulk by "
                              "every count plan run; its history would only repeat the ledger's",
}

# Security-relevant tables outside those apps: users, role membership, direct and scope grants.
EXTRA_MODELS = ("auth.user", "auth.user_groups", "auth.user_user_permissions", "guardian.userobjectpermission")

# Tables whose events only enterprise-scope readers see, whatever their scope rule says. A row that is
# enterprise-wide by its scope rule is not thereby everyone's to read: delegations are shown only to the
# two people involved and administrators (``delegations_visible_to``), so their history (with its notes)
# is not the trail's to broadcast. The security tables are restricted by derivation already (they have
# no scope rule); they are named here too so that giving one a scope rule never opens its history.
ENTERPRISE_READERS_ONLY: dict[str, str] = {
    "governance.delegation": "who may decide for whom, with private notes; listed to its parties and "
                             "administrators only",
    "auth.user": "users and their credentials' metadata",
    "auth.user_groups": "role membership",
    "auth.user_user_permissions": "direct permission grants",
    "guardian.userobjectpermission": "scope grants",
}


@dataclass(frozen=True)
class AuditedTable:
    """One audited table and the columns of its rows that place an event in the network."""

    label: str  # app_label.model_name
    table: str
    warehouse_column: str
    region_column: str
    enterprise: bool  # enterprise master data: events visible to every audit reader

    @property
    def restricted(self) -> bool:
        """Events of this table are shown to enterprise-scope readers only."""
        if self.label in ENTERPRISE_READERS_ONLY:
            return True
        return not self.enterprise and not (self.warehouse_column or self.region_column)


def _label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _column_of(model: type[models.Model], path: str, kind: str) -> str:
    """The row's own column for a scope path: ``warehouse`` -> ``warehouse_id``, ``pk`` -> ``id``.

    A path through a parent (``customer__region``) uses the row's own ``<kind>`` column if it has
    one; otherwise the row cannot tell its site and the answer is "".
    """
    if not path:
        return ""
    if path == "pk":
        return model._meta.pk.column
    name = kind if "__" in path else path
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return ""
    if not field.concrete:
        return ""
    if field.is_relation and field.related_model._meta.label_lower != f"warehouses.{kind}":
        return ""
    return field.column


def _columns(model: type[models.Model]) -> tuple[str, str, bool]:
    rule = getattr(model, "scoped_by", None)
    if not isinstance(rule, ScopedBy):
        return "", "", False
    if rule.kind == "enterprise":
        return "", "", True
    if rule.kind == "site":
        return _column_of(model, rule.path, "warehouse"), _column_of(model, rule.region_path, "region"), False
    if rule.kind == "warehouse":
        warehouse = _column_of(model, rule.path, "warehouse")
        region = _column_of(model, "region", "region") if rule.path == "pk" else ""
        return warehouse, region, False
    if rule.kind == "region":
        return "", _column_of(model, rule.path, "region"), False
    return "", "", False  # legal entity and anything else: not expressible as a row's site


def _app_models() -> Iterable[type[models.Model]]:
    for app_label in AUDITED_APPS:
        yield from apps.get_app_config(app_label).get_models(include_auto_created=True)


def _extra_models() -> Iterable[type[models.Model]]:
    user = get_user_model()
    for label in EXTRA_MODELS:
        app_label, name = label.split(".")
        if label == "auth.user_groups":
            yield user.groups.through
        elif label == "auth.user_user_permissions":
            yield user.user_permissions.through
        elif label == "auth.user":
            yield user
        else:
            yield apps.get_model(app_label, name)


def audited_tables() -> list[AuditedTable]:
    """Every audited table, in a stable order."""
    seen: dict[str, AuditedTable] = {}
    for model in [*_app_models(), *_extra_models()]:
        meta = model._meta
        if meta.abstract or meta.proxy or not meta.managed or _label(model) in EXCLUDED_MODELS:
            continue
        warehouse, region, enterprise = _columns(model)
        seen[meta.db_table] = AuditedTable(_label(model), meta.db_table, warehouse, region, enterprise)
    return sorted(seen.values(), key=lambda t: t.table)


def audited_models() -> list[str]:
    return [table.label for table in audited_tables()]


@functools.cache
def _table_by_name() -> dict[str, AuditedTable]:
    return {table.table: table for table in audited_tables()}


def restricted_tables() -> list[str]:
    return [table.table for table in _table_by_name().values() if table.restricted]


def model_label_of(table_name: str) -> str | None:
    """``app_label.model`` of an audited table, or None for a table no longer known."""
    table = _table_by_name().get(table_name)
    return table.label if table else None


def table_of(label: str) -> str | None:
    """The table of ``app_label.model`` (audited or not), or None for an unknown label."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return next((t.table for t in audited_tables() if t.label == label.lower()), None)
    return model._meta.db_table


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def trigger_sql(table: AuditedTable, quote_name: Any) -> str:
    return (
        f"CREATE OR REPLACE TRIGGER {quote_name(TRIGGER_NAME)} AFTER INSERT OR UPDATE OR DELETE "
        f"ON {quote_name(table.table)} FOR EACH ROW "
        f"EXECUTE FUNCTION concord_audit({_literal(table.warehouse_column)}, {_literal(table.region_column)})"
    )


def install_triggers(using: str = "default") -> list[str]:
    """Attach (or re-attach) ``concord_audit`` to every audited table that exists; returns their names.

    Idempotent (``CREATE OR REPLACE TRIGGER``, PostgreSQL 14+), so it runs after every migrate and
    picks up new tables and changed scope columns. Does nothing before the function exists.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('concord_audit()') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return []
        existing = set(connection.introspection.table_names(cursor))
        installed = []
        for table in audited_tables():
            if table.table not in existing:
                continue
            cursor.execute(trigger_sql(table, connection.ops.quote_name))
            installed.append(table.table)
    return installed


def install_triggers_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate hook: attach concord_audit() to every audited table."""
    if connections[using].vendor != "postgresql":
        return
    install_triggers(using=using)


# --- reading the trail ------------------------------------------------------------------------------


def audit_events_for(user: Any) -> QuerySet[Any]:
    """The audit events ``user`` may read: the scope rule, and restricted tables for enterprise readers only."""
    AuditEvent = apps.get_model("governance", "AuditEvent")
    queryset = scope_queryset(AuditEvent.objects.select_related("actor"), user)
    if not scope_of(user).enterprise:
        queryset = queryset.exclude(table_name__in=restricted_tables())
    return queryset


def history_of(obj: models.Model, user: Any) -> QuerySet[Any]:
    """The audit events of one object that ``user`` may read, newest first."""
    return audit_events_for(user).filter(table_name=obj._meta.db_table, row_id=str(obj.pk)).order_by("-id")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


def field_changes(event: Any) -> list[FieldChange]:
    """An event's changes as (field, old, new): inserts have no old value, deletes no new one."""
    changes = event.changes or {}
    hidden = {"id", "created_at", "updated_at"}
    if event.operation == "UPDATE":
        return [FieldChange(k, v[0], v[1]) for k, v in sorted(changes.items())
                if isinstance(v, list) and len(v) == 2]
    if event.operation == "INSERT":
        return [FieldChange(k, None, v) for k, v in sorted(changes.items()) if k not in hidden]
    return [FieldChange(k, v, None) for k, v in sorted(changes.items()) if k not in hidden]
