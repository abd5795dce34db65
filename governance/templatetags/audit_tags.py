"""``{% audit_history obj %}``: the recent changes of one object, as the viewer may see them.

Any detail screen (master data now, documents later) shows its object's history with
``{% load audit_tags %}{% audit_history object %}``. The panel appears only for users with
``governance.view_auditevent`` and lists only events within their scope (``audit_events_for``).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Model

from governance.audit import ShownChange, attach_shown_changes, history_of, record_type_name

register = template.Library()

HISTORY_LIMIT = 10


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
def audit_shown(event: Any) -> list[ShownChange]:
    """The event's changes as ``attach_shown_changes`` described them."""
    shown: list[ShownChange] = getattr(event, "shown_changes", [])
    return shown


@register.filter
def audit_model(event: Any) -> str:
    """The kind of record an event changed, as people name it ("Sales order")."""
    return record_type_name(event.table_name)
