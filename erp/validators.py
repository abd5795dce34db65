"""Validators for the shapes every app shares: codes, currencies, time zones, quantities."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9._-]{0,31}$",
    "Use 1 to 32 upper-case letters, digits, '.', '_' or '-', starting with a letter or digit.",
)
# Stock statuses are named like the API's other enumerations: ``available``, ``quality_hold``.
status_code_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,31}$",
    "Use 1 to 32 lower-case letters, digits or '_', starting with a letter.",
)
sku_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$",
    "Use 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit.",
)
currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code such as USD or EUR.")
country_validator = RegexValidator(r"^[A-Z]{2}$", "Use a two-letter ISO 3166 country code such as US or NL.")

_TIMEZONES = frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _TIMEZONES:
        raise ValidationError(f"'{value}' is not a known IANA time zone (for example Europe/Amsterdam).")
