"""``{% open_exceptions sku=... warehouse=... %}`` (or ``order=``, ``pick_list=``, ``rma=``, ``transfer=``,
``customer=``, ``deviation=``): the open exceptions about a page's object, for users who may see exceptions,
each linked to the queue."""

from __future__ import annotations

from typing import Any

from django import template

from governance.causes import open_exceptions_about

register = template.Library()

SHOWN = 10


@register.inclusion_tag("governance/exceptions/_about.html", takes_context=True)
def open_exceptions(context: template.Context, **about: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("governance.view_operationalexception"):
        return {"show": False}
    rows = list(open_exceptions_about(user, **{key: value for key, value in about.items() if value})
                .select_related("warehouse")[: SHOWN + 1])
    return {"show": True, "rows": rows[:SHOWN], "more": len(rows) > SHOWN}
