"""How a policy value reads on a screen: plain text, not JSON or a Python repr."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


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
