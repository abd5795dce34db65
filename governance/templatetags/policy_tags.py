"""How a policy reads on a screen: its name, process and value in plain words, not its key, JSON or a Python
repr (the key stays in a tooltip, and in the API)."""

from __future__ import annotations

from typing import Any

from django import template

from erp.roles import ROLE_BY_KEY

register = template.Library()

# Words that are acronyms on a screen.
ACRONYMS = {"sla": "SLA", "uom": "UoM", "fefo": "FEFO", "fifo": "FIFO"}


def _words(text: str) -> str:
    return " ".join(ACRONYMS.get(word, word) for word in text.replace("_", " ").split())


@register.filter
def policy_name(key: str) -> str:
    """``fulfillment.shipping_cutoff`` -> "Fulfillment: shipping cutoff"."""
    area, _, name = str(key).partition(".")
    if not name:
        return _words(area).capitalize()
    return f"{_words(area).capitalize()}: {_words(name)}"


@register.filter
def process_name(process: str) -> str:
    """``order_to_cash`` -> "Order to cash"."""
    words = _words(str(process))
    return words[:1].upper() + words[1:]


@register.filter
def role_name(key: str) -> str:
    """A role's key (``warehouse_supervisor``) as its name ("Warehouse supervisor")."""
    role = ROLE_BY_KEY.get(str(key))
    return role.group if role is not None else process_name(key)


@register.filter
def policy_value(value: Any) -> str:
    """``"15:00"`` -> 15:00; lists -> "a, b"; objects -> "k: v; k: v"; approval bands -> "up to X: a → b"."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if value and all(isinstance(band, dict) and "steps" in band for band in value):
            return "; ".join(
                f"{'up to ' + band['up_to'] if band['up_to'] is not None else 'above'}: {' → '.join(band['steps'])}"
                for band in value
            )
        return ", ".join(str(item) for item in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)
