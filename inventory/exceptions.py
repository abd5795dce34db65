"""Domain errors of the inventory app."""

from erp.exceptions import Conflict, ValidationFailed


class UnknownUnit(ValidationFailed):
    code = "unknown_uom"
    default_message = "The unit of measure is not defined for this item."


class BaseUnitConversion(ValidationFailed):
    code = "invalid_uom_conversion"
    default_message = "The base unit's conversion factor must be exactly 1."


class UomPrecision(ValidationFailed):
    code = "uom_precision"
    default_message = "The quantity converts to more than 4 decimal places of the base unit."


class InvalidQuantity(ValidationFailed):
    code = "invalid_quantity"
    default_message = "The quantity must be a finite, non-zero number with at most 4 decimal places."


class LotRequired(ValidationFailed):
    code = "lot_required"
    default_message = "This item is lot-tracked: every move needs a lot."


class LotNotAllowed(ValidationFailed):
    code = "lot_not_allowed"
    default_message = "This item is not lot-tracked: a move may not name a lot."


class UnknownStatus(ValidationFailed):
    code = "unknown_status"
    default_message = "There is no such stock status."


class UnknownReason(ValidationFailed):
    code = "unknown_reason"
    default_message = "The reason code does not exist or does not apply to this operation."


class LocationMismatch(ValidationFailed):
    code = "location_not_in_warehouse"
    default_message = "The location does not belong to the warehouse."


class InsufficientStock(Conflict):
    """A move would take a balance below zero, or below what is already allocated."""

    code = "insufficient_stock"
    default_message = "Not enough stock."


class UnknownLot(ValidationFailed):
    code = "unknown_lot"
    default_message = "There is no such lot of this item."


class InvalidStatusTransition(Conflict):
    """Stock may not move between these statuses, or not for this reason (``StatusTransition``)."""

    code = "invalid_status_transition"
    default_message = "Stock may not move between these statuses for this reason."


class InvalidAdjustmentTransition(Conflict):
    code = "invalid_transition"
    default_message = "The adjustment cannot move from its status to the one asked for."


class LocationRequired(ValidationFailed):
    code = "location_required"
    default_message = "Name the location: the stock is in more than one."


class InvalidCountTransition(Conflict):
    code = "invalid_transition"
    default_message = "The cycle count cannot move from its status to the one asked for."


class CountIncomplete(Conflict):
    """A count was submitted with lines nobody counted (``detail.lines`` lists them)."""

    code = "count_incomplete"
    default_message = "Some lines of the count have not been counted."


class DuplicateCountLine(ValidationFailed):
    code = "duplicate_line"
    default_message = "The same location, item and lot appears more than once."
