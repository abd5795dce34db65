"""Domain errors of the inventory app."""

from erp.exceptions import ValidationFailed


class UnknownUnit(ValidationFailed):
    code = "unknown_uom"
    default_message = "The unit of measure is not defined for this item."


class BaseUnitConversion(ValidationFailed):
    code = "invalid_uom_conversion"
    default_message = "The base unit's conversion factor must be exactly 1."
