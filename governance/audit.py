"""The audit trail: which tables carry the audit triggers, and who may read which events.

Every insert, update and delete on an audited table is recorded by database triggers, so model saves,
bulk ``queryset.update()`` and raw SQL are captured alike: ``concord_audit_insert``,
``concord_audit_update`` and ``concord_audit_delete``, statement-level triggers of the function
``concord_audit_statement(warehouse_column, region_column)`` (migration ``governance.0004``) that write
all the events of a statement with one INSERT from its transition tables, and ``concord_audit_rekey``,
which lets the update trigger pair old and new rows by ``id`` even when a statement changes an id. A
table without an ``id`` column would keep the row-level trigger ``concord_audit`` (``governance.0002``),
which records the same events one row at a time. The actor and request id come from the
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
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from erp.scoping import ScopedBy, scope_of, scope_queryset

# The statement-level triggers of a table with an ``id`` column: one per event (PostgreSQL allows transition
# tables only on a single-event trigger), plus the row-level one that pairs rows whose id an UPDATE changes.
STATEMENT_TRIGGERS = {"INSERT": "concord_audit_insert", "UPDATE": "concord_audit_update",
                      "DELETE": "concord_audit_delete"}
REKEY_TRIGGER = "concord_audit_rekey"
STATEMENT_TRIGGER_NAMES = (*STATEMENT_TRIGGERS.values(), REKEY_TRIGGER)
# The row-level trigger: what a table without an ``id`` column keeps (and every table had before governance.0004).
ROW_TRIGGER = "concord_audit"
TRIGGER_NAMES = (*STATEMENT_TRIGGER_NAMES, ROW_TRIGGER)

# The apps whose every table is audited (a test fails when one of their tables has no trigger).
AUDITED_APPS = ("warehouses", "inventory", "orders", "procurement", "finance", "governance", "transfers")

# Tables of those apps deliberately left out, each with its reason.
EXCLUDED_MODELS: dict[str, str] = {
    "governance.auditevent": "the trail itself (append-only; auditing it would recurse)",
    "governance.notification": "the outbox: delivery bookkeeping (attempts, sent_at) of a notification whose "
                               "cause, the exception and its escalation, is audited",
    "inventory.itemabcclass": "a classification derived from the (audited) ledger and recomputed in bulk by "
                              "every count plan run; its history would only repeat the ledger's",
    # The stock ledger's projections: every posting rewrites them from its (audited, append-only) moves in the
    # same transaction, and check_inventory_invariants proves them equal to the ledger. On the trail they
    # repeated each posting three times over and were a third of a 500-line transfer's time (W3).
    "inventory.stockbalance": "on hand per location, lot and status: the sum of its ledger moves (I2), which are "
                              "on the trail with their actor, request and reference",
    "inventory.itemwarehousesummary": "per item and warehouse, the sums of the balances and the sum of the open "
                                      "allocations (audited with their orders), rewritten by every posting",
    "inventory.itemcost": "the moving average per item and legal entity, recomputed from the ledger's valued moves "
                          "by every posting (each move records the cost it carried)",
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
    related = field.related_model  # a model class once the app registry is ready
    if field.is_relation and not (isinstance(related, type) and issubclass(related, models.Model)
                                 and related._meta.label_lower == f"warehouses.{kind}"):
        return ""
    return field.column or ""


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


def model_of_table(table_name: str) -> type[models.Model] | None:
    """The model of an audited table, or None for a table no longer known."""
    label = model_label_of(table_name)
    try:
        return apps.get_model(label) if label else None
    except (LookupError, ValueError):
        return None


def record_type_name(table_name: str) -> str:
    """What people call the records of an audited table ("Sales order"); the table itself when its model is gone."""
    model = model_of_table(table_name)
    return str(model._meta.verbose_name).capitalize() if model is not None else table_name


def table_of(label: str) -> str | None:
    """The table of ``app_label.model`` (audited or not), or None for an unknown label."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return next((t.table for t in audited_tables() if t.label == label.lower()), None)
    return model._meta.db_table


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def trigger_sql(table: AuditedTable, quote_name: Any, *, statement_level: bool = True) -> list[str]:
    """The statements that put ``table`` on the trail and take off the triggers of the other kind.

    ``statement_level``: the three statement-level triggers and ``concord_audit_rekey`` (the table has
    an ``id`` column); otherwise the row-level ``concord_audit``. Every statement is idempotent.
    """
    name = quote_name(table.table)
    args = f"{_literal(table.warehouse_column)}, {_literal(table.region_column)}"
    if not statement_level:
        return [
            f"CREATE OR REPLACE TRIGGER {quote_name(ROW_TRIGGER)} AFTER INSERT OR UPDATE OR DELETE ON {name} "
            f"FOR EACH ROW EXECUTE FUNCTION concord_audit({args})",
            *(f"DROP TRIGGER IF EXISTS {quote_name(trigger)} ON {name}" for trigger in STATEMENT_TRIGGER_NAMES),
        ]
    referencing = {"INSERT": "NEW TABLE AS concord_audit_new",
                   "UPDATE": "OLD TABLE AS concord_audit_old NEW TABLE AS concord_audit_new",
                   "DELETE": "OLD TABLE AS concord_audit_old"}
    return [
        *(f"CREATE OR REPLACE TRIGGER {quote_name(trigger)} AFTER {event} ON {name} "
          f"REFERENCING {referencing[event]} FOR EACH STATEMENT EXECUTE FUNCTION concord_audit_statement({args})"
          for event, trigger in STATEMENT_TRIGGERS.items()),
        f"CREATE OR REPLACE TRIGGER {quote_name(REKEY_TRIGGER)} AFTER UPDATE OF id ON {name} "
        f"FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION concord_audit_rekeyed()",
        f"DROP TRIGGER IF EXISTS {quote_name(ROW_TRIGGER)} ON {name}",
    ]


def install_triggers(using: str = "default") -> list[str]:
    """Attach (or re-attach) the audit triggers to every audited table that exists; returns their names.

    A table with an ``id`` column gets the statement-level triggers (``governance.0004``) and loses the
    row-level one, a table without one keeps the row-level ``concord_audit``; each table is switched in
    one transaction, so no write is recorded twice or missed. Idempotent (``CREATE OR REPLACE
    TRIGGER``, PostgreSQL 14+), so it runs after every migrate and picks up new tables and changed
    scope columns; a table taken off the trail (``EXCLUDED_MODELS``) loses its triggers. Does nothing before
    the functions exist; with ``governance.0004`` unapplied every
    table gets the row-level trigger.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('concord_audit()') IS NOT NULL, "
                       "to_regprocedure('concord_audit_statement()') IS NOT NULL "
                       "AND to_regprocedure('concord_audit_rekeyed()') IS NOT NULL")
        row_function, statement_functions = cursor.fetchone()
        if not (row_function or statement_functions):
            return []
        existing = set(connection.introspection.table_names(cursor))
        cursor.execute(
            "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relkind = 'r' AND a.attname = 'id' AND a.attnum > 0 AND NOT a.attisdropped "
            "AND pg_table_is_visible(c.oid)"
        )
        with_id = {row[0] for row in cursor.fetchall()}
    installed = []
    for label in EXCLUDED_MODELS:  # taken off the trail: a table audited before loses its triggers
        excluded = table_of(label)
        if excluded in existing:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                for trigger in TRIGGER_NAMES:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {connection.ops.quote_name(trigger)} "
                                   f"ON {connection.ops.quote_name(excluded)}")
    for table in audited_tables():
        if table.table not in existing:
            continue
        statement_level = statement_functions and table.table in with_id
        if not statement_level and not row_function:
            continue
        with transaction.atomic(using=using), connection.cursor() as cursor:
            for sql in trigger_sql(table, connection.ops.quote_name, statement_level=statement_level):
                cursor.execute(sql)
        installed.append(table.table)
    return installed


def install_triggers_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate hook: attach the audit triggers to every audited table."""
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



# --- the trail in people's words ---------------------------------------------------------------------------

# The attribute that names an object to a person, in order of preference; the first the model has is used.
NATURAL_KEYS = ("code", "sku", "number", "username", "lot_number", "key")
VALUE_SHOWN_CHARS = 80


@dataclass(frozen=True)
class ShownChange:
    """One field's change as a person reads it: the field's name, not its column; a related object's code,
    number or SKU, not its id; a choice's label, not its stored value."""

    field: str
    column: str  # as stored, for a tooltip
    old: str
    new: str


def _natural_key(model: type[models.Model]) -> str | None:
    names = {field.name for field in model._meta.concrete_fields}
    return next((name for name in NATURAL_KEYS if name in names), None)


def events_about(document: str) -> Q:
    """The events of every audited row whose natural key is ``document`` (``SO-000123``, ``NE-BOS``, ``BEV-0001``,
    in any case): one indexed query per audited model that has a natural key. Matches nothing when none has it.

    The caller filters a scoped event queryset, so a document outside the reader's scope shows nothing.
    """
    condition = Q(pk__in=[])
    for table in audited_tables():
        model = model_of_table(table.table)
        key = _natural_key(model) if model is not None else None
        if model is None or key is None:
            continue
        ids = [str(pk) for pk in model._default_manager.filter(**{f"{key}__iexact": document})
               .values_list("pk", flat=True)[:50]]
        if ids:
            condition |= Q(table_name=table.table, row_id__in=ids)
    return condition


def _related_names(model: type[models.Model], ids: set[Any], user: Any) -> dict[str, str]:
    """``str(id)`` -> the natural key of each of ``ids`` that ``user`` may see (one query)."""
    key = _natural_key(model)
    if key is None or not ids:
        return {}
    queryset = model._default_manager.filter(pk__in=ids)
    if getattr(model, "scoped_by", None) is not None:
        queryset = scope_queryset(queryset, user)
    return {str(pk): str(name) for pk, name in queryset.values_list("pk", key)}


def _shown(value: Any, field: models.Field[Any, Any] | None, names: dict[str, str]) -> str:
    if value is None or value == "":
        return "—"
    if field is not None and field.is_relation:
        return names.get(str(value), "(outside your scope)")
    if field is not None and field.choices:
        labels = {str(choice): str(label) for choice, label in field.flatchoices}
        if str(value) in labels:
            return labels[str(value)]
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(field, models.DecimalField):
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            return str(value)
        text = format(number, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(moment) else value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_SHOWN_CHARS else text[: VALUE_SHOWN_CHARS - 1] + "…"


def describe_changes(events: list[Any], user: Any) -> dict[int, list[ShownChange]]:
    """Each event's changes in people's words (``ShownChange``), by event id: the related objects of all the
    events resolved together, one query per related model, and only within ``user``'s scope."""
    columns: dict[int, dict[str, models.Field[Any, Any]]] = {}
    wanted: dict[type[models.Model], set[Any]] = {}
    raw = {event.pk: field_changes(event) for event in events}
    for event in events:
        model = model_of_table(event.table_name)
        fields = {field.column: field for field in model._meta.concrete_fields} if model is not None else {}
        columns[event.pk] = fields
        for change in raw[event.pk]:
            field = fields.get(change.field)
            if field is not None and field.is_relation and field.related_model is not None:
                related = field.related_model
                if isinstance(related, type):
                    wanted.setdefault(related, set()).update(v for v in (change.old, change.new) if v is not None)
    names = {related: _related_names(related, ids, user) for related, ids in wanted.items()}
    shown: dict[int, list[ShownChange]] = {}
    for event in events:
        fields = columns[event.pk]
        rows = []
        for change in raw[event.pk]:
            field = fields.get(change.field)
            target = field.related_model if field is not None and field.is_relation else None
            lookup = names.get(target, {}) if isinstance(target, type) else {}
            name = str(field.verbose_name) if field is not None else change.field
            rows.append(ShownChange(field=name, column=change.field, old=_shown(change.old, field, lookup),
                                    new=_shown(change.new, field, lookup)))
        shown[event.pk] = rows
    return shown


def attach_shown_changes(events: list[Any], user: Any) -> None:
    """Give each event its changes in people's words (``shown_changes``, read by the ``audit_shown`` filter),
    resolved for all of them at once."""
    shown = describe_changes(events, user)
    for event in events:
        event.shown_changes = shown[event.pk]


# --- a user's access in people's words ------------------------------------------------------------------------
# The tables whose rows are a user's access: their roles, direct and scope grants (each row names the user).
ACCESS_TABLES = ("auth_user_groups", "auth_user_user_permissions", "guardian_userobjectpermission")


def user_access_history(target: Any, reader: Any) -> QuerySet[Any]:
    """The audit events of ``target``'s account and access (roles, scope and direct grants) that ``reader``
    may read, newest first."""
    return audit_events_for(reader).filter(
        Q(table_name=get_user_model()._meta.db_table, row_id=str(target.pk))
        | Q(table_name__in=ACCESS_TABLES, changes__user_id=target.pk)
    ).order_by("-id")



@dataclass(frozen=True)
class AccessChange:
    event: Any
    text: str  # "Granted warehouse NE-BOS", "Role Warehouse operator removed"


def access_history(target: Any, reader: Any, limit: int = 50) -> list[AccessChange]:
    """``target``'s account and access changes in people's words, newest first, in a constant number of
    queries: grants name their region or warehouse, role changes their role."""
    from django.contrib.auth.models import Group, Permission

    from erp.scoping import ENTERPRISE_PERMISSION, REGION_PERMISSION, WAREHOUSE_PERMISSION
    from warehouses.models import Region, Warehouse

    events = list(user_access_history(target, reader).select_related("actor")[:limit])
    rows: dict[int, dict[str, Any]] = {event.pk: (event.changes or {}) for event in events}
    permission_ids = {row.get("permission_id") for row in rows.values()} - {None}
    group_ids = {row.get("group_id") for row in rows.values()} - {None}
    object_ids = {str(row.get("object_pk")) for row in rows.values() if row.get("object_pk") is not None}
    permissions: dict[Any, str] = dict(Permission.objects.filter(pk__in=permission_ids).values_list("pk", "codename"))
    groups: dict[Any, str] = dict(Group.objects.filter(pk__in=group_ids).values_list("pk", "name"))
    numeric = [int(pk) for pk in object_ids if pk.isdigit()]
    regions: dict[Any, str] = dict(Region.objects.filter(pk__in=numeric).values_list("pk", "code")) if numeric else {}
    warehouses: dict[Any, str] = (dict(Warehouse.objects.filter(pk__in=numeric).values_list("pk", "code"))
                                  if numeric else {})
    verb = {"INSERT": "Granted", "DELETE": "Revoked", "UPDATE": "Changed"}
    shown = []
    for event in events:
        row = rows[event.pk]
        action = verb.get(event.operation, event.operation)
        if event.table_name == "guardian_userobjectpermission":
            codename = permissions.get(row.get("permission_id"), "")
            pk = int(row["object_pk"]) if str(row.get("object_pk", "")).isdigit() else None
            if codename == REGION_PERMISSION:
                text = f"{action} region {regions.get(pk, '(removed)')}"
            elif codename == WAREHOUSE_PERMISSION:
                text = f"{action} warehouse {warehouses.get(pk, '(removed)')}"
            else:
                text = f"{action} {codename or 'a permission'}"
        elif event.table_name == "auth_user_groups":
            name = groups.get(row.get("group_id"), "a role")
            text = f"{'Given' if event.operation == 'INSERT' else 'Removed from'} the role {name}"
        elif event.table_name == "auth_user_user_permissions":
            codename = permissions.get(row.get("permission_id"), "")
            text = (f"{action} the whole enterprise" if f".{codename}" in ENTERPRISE_PERMISSION
                    else f"{action} {codename or 'a permission'}")
        else:
            fields = sorted(k for k in row if k not in ("last_login", "updated_at"))
            if event.operation == "INSERT":
                text = "Account created"
            elif event.operation == "UPDATE" and fields:
                names = {"is_active": "active", "password": "password"}
                text = "Account changed: " + ", ".join(names.get(k, k.replace("_", " ")) for k in fields)
            else:
                continue  # a sign-in only moves last_login
        shown.append(AccessChange(event, text))
    return shown
