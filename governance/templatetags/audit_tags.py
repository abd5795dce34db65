"""``{% audit_history obj %}``: the recent changes of one object, as the viewer may see them.

Any detail screen (master data now, documents later) shows its object's history with
``{% load audit_tags %}{% audit_history object %}``. The panel appears only for users with
``governance.view_auditevent`` and lists only events within their scope (``audit_events_for``).
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.apps import apps
from django.db.models import Model

from governance.audit import (
    FieldChange,
    ShownChange,
    attach_shown_changes,
    field_changes,
    history_of,
    model_label_of,
)

register = template.Library()

HISTORY_LIMIT = 10
VALUE_SHOWN_CHARS = 80


@register.inclusion_tag("governance/audit/_history.html", takes_context=True)
def audit_history(context: template.Context, obj: Model, limit: int = HISTORY_LIMIT) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if obj is None or user is None or not user.has_perm("governance.view_auditevent"):
        return {"show": False}
    events = list(history_of(obj, user)[: limit + 1])
    attach_shown_changes(events[:limit], user)
    return {"show": True, "events": events[:limit], "more": len(events) > limit,
            "table": obj._meta.db_table, "row_id": str(obj.pk)}


@register.filter
def audit_changes(event: Any) -> list[FieldChange]:
    return field_changes(event)


@register.filter
def audit_shown(event: Any) -> list[ShownChange]:
    """The event's changes as ``attach_shown_changes`` described them."""
    shown: list[ShownChange] = getattr(event, "shown_changes", [])
    return shown


@register.filter
def audit_model(event: Any) -> str:
    """The kind of record an event changed, as people name it ("Sales order"); its table when the model is gone."""
    label = model_label_of(event.table_name)
    try:
        model = apps.get_model(label) if label else None
    except (LookupError, ValueError):
        model = None
    return str(model._meta.verbose_name).capitalize() if model is not None else event.table_name


@register.filter
def audit_value(value: Any) -> str:
    """A changed value for display: JSON for structures, shortened, an em dash for none."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_SHOWN_CHARS else text[: VALUE_SHOWN_CHARS - 1] + "…"
