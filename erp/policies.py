"""Policy declarations: each app lists the policies it owns in its own ``policies.py``.

A policy is a named, typed setting with one enterprise standard value. This module holds only the
declaration shapes and the value types, so that any app (warehouses included, which sits below
governance) can declare policies; ``governance`` discovers every installed app's ``policies``
module, syncs the declarations into its ``Policy`` table and resolves values per site.

Value types validate a raw JSON value and return its normal form (the form stored and compared),
raising ``ValidationFailed`` with ``{"value": [...]}`` on anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from erp.exceptions import ValidationFailed


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed(detail={"value": [message]})


def _decimal(raw: Any, *, minimum: Decimal | None, maximum: Decimal | None, places: int, what: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise _fail(f"{what} must be a decimal number written as a string, such as \"2.5\".")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise _fail(f"{what} must be a decimal number, not {raw!r}.") from exc
    if not value.is_finite():
        raise _fail(f"{what} must be a finite number.")
    exponent = value.as_tuple().exponent  # an int for a finite number (a letter for NaN and infinity)
    if isinstance(exponent, int) and exponent < -places:
        raise _fail(f"{what} allows at most {places} decimal places.")
    if minimum is not None and value < minimum:
        raise _fail(f"{what} must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise _fail(f"{what} must be at most {maximum}.")
    return value.quantize(Decimal(1).scaleb(-places))


class ValueType:
    """A policy's value type. ``name`` and ``describe()`` are shown to people and in the API."""

    name = "value"

    def validate(self, raw: Any) -> Any:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"type": self.name}


@dataclass(frozen=True)
class LocalTime(ValueType):
    """A wall-clock time at the site, "HH:MM" (24 h), read in the warehouse's own time zone."""

    name = "local_time"

    def validate(self, raw: Any) -> str:
        if not isinstance(raw, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", raw):
            raise _fail("Use a 24-hour local time \"HH:MM\", such as \"15:30\".")
        return raw


@dataclass(frozen=True)
class Integer(ValueType):
    minimum: int = 0
    maximum: int = 1_000_000
    unit: str = ""
    name = "integer"

    def validate(self, raw: Any) -> int:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise _fail("Must be a whole number.")
        if not self.minimum <= raw <= self.maximum:
            raise _fail(f"Must be between {self.minimum} and {self.maximum}.")
        return raw

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "minimum": self.minimum, "maximum": self.maximum, "unit": self.unit}


@dataclass(frozen=True)
class DecimalValue(ValueType):
    minimum: Decimal = Decimal(0)
    maximum: Decimal = Decimal("1000000000")
    places: int = 2
    unit: str = ""
    name = "decimal"

    def validate(self, raw: Any) -> str:
        return str(_decimal(raw, minimum=self.minimum, maximum=self.maximum, places=self.places, what="The value"))

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "minimum": str(self.minimum), "maximum": str(self.maximum),
                "places": self.places, "unit": self.unit}


@dataclass(frozen=True)
class Boolean(ValueType):
    name = "boolean"

    def validate(self, raw: Any) -> bool:
        if not isinstance(raw, bool):
            raise _fail("Must be true or false.")
        return raw


@dataclass(frozen=True)
class Choice(ValueType):
    options: tuple[str, ...] = ()
    name = "choice"

    def validate(self, raw: Any) -> str:
        if raw not in self.options:
            raise _fail(f"Must be one of: {', '.join(self.options)}.")
        return str(raw)

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "options": list(self.options)}


@dataclass(frozen=True)
class Sequence(ValueType):
    """An ordered list of distinct options (an allocation sequence, an escalation ladder)."""

    options: tuple[str, ...] = ()
    min_length: int = 1
    name = "sequence"

    def validate(self, raw: Any) -> list[str]:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise _fail("Must be a list of option names.")
        unknown = [item for item in raw if item not in self.options]
        if unknown:
            raise _fail(f"Unknown option(s) {', '.join(unknown)}; choose from {', '.join(self.options)}.")
        if len(set(raw)) != len(raw):
            raise _fail("An option may appear only once.")
        if len(raw) < self.min_length:
            raise _fail(f"Name at least {self.min_length} option(s).")
        return list(raw)

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "options": list(self.options), "min_length": self.min_length}


@dataclass(frozen=True)
class NumberByKey(ValueType):
    """A number for each of a fixed set of keys (SLA hours per exception type, days per ABC class)."""

    keys: tuple[str, ...] = ()
    minimum: Decimal = Decimal(0)
    maximum: Decimal = Decimal(10000)
    places: int = 2
    unit: str = ""
    name = "number_by_key"

    def validate(self, raw: Any) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise _fail(f"Must be an object with a number for each of: {', '.join(self.keys)}.")
        missing, unknown = set(self.keys) - set(raw), set(raw) - set(self.keys)
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(sorted(missing))}")
            if unknown:
                parts.append(f"unknown {', '.join(sorted(unknown))}")
            raise _fail("Keys do not match: " + "; ".join(parts) + ".")
        return {
            key: str(_decimal(raw[key], minimum=self.minimum, maximum=self.maximum, places=self.places, what=key))
            for key in self.keys
        }

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "keys": list(self.keys), "minimum": str(self.minimum),
                "maximum": str(self.maximum), "unit": self.unit}


@dataclass(frozen=True)
class CodeByKey(ValueType):
    """A short code for any number of keys ({"PAP-0003": "NORD"}: a supplier per SKU); ``{}`` names none.

    Keys and codes are checked for shape only (``pattern``); whether a code names a live record is the reader's
    business, which falls back to its standard when it does not.
    """

    pattern: str = r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}"
    max_keys: int = 1000
    name = "code_by_key"

    def validate(self, raw: Any) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise _fail("Must be an object of codes by key, such as {\"PAP-0003\": \"NORD\"}.")
        if len(raw) > self.max_keys:
            raise _fail(f"At most {self.max_keys} keys.")
        bad_keys = sorted(str(key) for key in raw if not re.fullmatch(self.pattern, str(key)))
        if bad_keys:
            raise _fail(f"Not a key: {', '.join(bad_keys)}.")
        bad = sorted(key for key, code in raw.items() if not isinstance(code, str)
                     or not re.fullmatch(self.pattern, code))
        if bad:
            raise _fail(f"The code of {', '.join(bad)} must be a short code, such as \"NORD\".")
        return {key: raw[key] for key in sorted(raw)}


@dataclass(frozen=True)
class Tolerance(ValueType):
    """A variance tolerance: a quantity percentage and a value in the legal entity's currency.

    A variance is within tolerance when it is within both limits.
    """

    name = "tolerance"

    def validate(self, raw: Any) -> dict[str, str]:
        if not isinstance(raw, dict) or set(raw) != {"quantity_pct", "value"}:
            raise _fail("Must be an object {\"quantity_pct\": \"2.00\", \"value\": \"250.00\"}.")
        return {
            "quantity_pct": str(_decimal(raw["quantity_pct"], minimum=Decimal(0), maximum=Decimal(100), places=2,
                                         what="quantity_pct")),
            "value": str(_decimal(raw["value"], minimum=Decimal(0), maximum=Decimal("100000000"), places=2,
                                  what="value")),
        }


@dataclass(frozen=True)
class Subset(ValueType):
    """Any subset of a fixed list (documents required for shipment), kept in the list's order."""

    options: tuple[str, ...] = ()
    name = "subset"

    def validate(self, raw: Any) -> list[str]:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise _fail("Must be a list of option names.")
        unknown = [item for item in raw if item not in self.options]
        if unknown:
            raise _fail(f"Unknown option(s) {', '.join(unknown)}; choose from {', '.join(self.options)}.")
        return [option for option in self.options if option in raw]

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "options": list(self.options)}


@dataclass(frozen=True)
class ApprovalMatrix(ValueType):
    """Amount bands, each with ordered approval steps.

    ``[{"up_to": "5000.00", "steps": ["warehouse_supervisor"]},
       {"up_to": "50000.00", "steps": ["warehouse_supervisor", "approver"]},
       {"up_to": null, "steps": ["warehouse_supervisor", "approver", "finance"]}]``

    Bands ascend strictly; the last is open-ended (``up_to`` null). Amounts are in the legal
    entity's currency. Step names are role keys of ``erp.roles``.
    """

    roles: tuple[str, ...] = ()
    name = "approval_matrix"

    def validate(self, raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list) or not raw:
            raise _fail("Must be a non-empty list of bands {\"up_to\", \"steps\"}.")
        bands: list[dict[str, Any]] = []
        previous: Decimal | None = None
        for index, band in enumerate(raw):
            if not isinstance(band, dict) or set(band) != {"up_to", "steps"}:
                raise _fail(f"Band {index + 1} must be an object with exactly \"up_to\" and \"steps\".")
            last = index == len(raw) - 1
            if band["up_to"] is None:
                if not last:
                    raise _fail("Only the last band may be open-ended (up_to null).")
                up_to = None
            else:
                up_to = _decimal(band["up_to"], minimum=Decimal("0.01"), maximum=Decimal("1000000000000"), places=2,
                                 what=f"Band {index + 1} up_to")
                if previous is not None and up_to <= previous:
                    raise _fail("Bands must ascend: each up_to above the one before.")
                previous = up_to
            steps = band["steps"]
            if not isinstance(steps, list) or not all(isinstance(step, str) for step in steps):
                raise _fail(f"Band {index + 1} steps must be a list of role names.")
            unknown = [step for step in steps if step not in self.roles]
            if unknown:
                raise _fail(f"Unknown role(s) {', '.join(unknown)} in band {index + 1}.")
            if len(set(steps)) != len(steps):
                raise _fail(f"Band {index + 1} names a role twice.")
            bands.append({"up_to": None if up_to is None else str(up_to), "steps": list(steps)})
        if bands[-1]["up_to"] is not None:
            raise _fail("The last band must be open-ended (up_to null) so every amount has a band.")
        return bands

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "roles": list(self.roles)}


@dataclass(frozen=True)
class PolicySpec:
    """One policy as an app declares it."""

    key: str
    description: str
    value_type: ValueType
    standard: Any
    process: str  # the owning process: order_to_cash, procure_to_pay, inventory, warehouse_operations, ...
    localizable: bool = True  # False: the enterprise standard only, no deviation may be requested
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z_]*\.[a-z][a-z_]*", self.key):
            raise ValueError(f"policy key {self.key!r} must look like 'process.name'")
        self.value_type.validate(self.standard)  # a declaration with an invalid standard fails at import


PROCESSES = {
    "order_to_cash": "Order to cash",
    "procure_to_pay": "Procure to pay",
    "inventory": "Inventory",
    "warehouse_operations": "Warehouse operations",
    "record_to_report": "Record to report",
    "governance": "Governance",
}
