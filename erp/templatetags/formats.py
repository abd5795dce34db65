"""The one way screens write quantities, amounts, dates and statuses (see ``erp.formats``).

``{{ line.quantity|qty:line.uom }}`` -> ``120 EA``; ``{{ order.total|money:order.currency }}`` ->
``1,234.50 USD``; ``{{ move.created_at|when }}`` -> ``2026-12-04 09:05 EST`` in the reader's time zone;
``{{ order.requested_date|day }}`` -> ``2026-12-04``; ``{% status_badge order %}`` -> the status's name in
its badge, its code in the tooltip.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from erp import formats

register = template.Library()


@register.filter
def qty(value: Any, unit: Any = "") -> str:
    return formats.quantity_text(value, unit)


@register.filter
def money(value: Any, currency: Any = "") -> str:
    return formats.money_text(value, currency)


@register.filter
def when(value: Any) -> str:
    return formats.datetime_text(value)


@register.filter
def day(value: Any) -> str:
    return formats.date_text(value)


@register.simple_tag
def status_badge(obj: Any, field: str = "status") -> str:
    """The badge of ``obj``'s status: its display name, the code in the tooltip."""
    code = getattr(obj, field, "") or ""
    display = getattr(obj, f"get_{field}_display", None)
    label = display() if callable(display) else str(code).replace("_", " ").capitalize()
    return format_html('<span class="badge {}" title="{}" data-status="{}">{}</span>',
                       formats.badge_class(str(code)), code, code, label)
