"""Domain errors of procure to pay: each a stable code and an HTTP status (``erp.exceptions``)."""

from erp.exceptions import Conflict, ValidationFailed


class InvalidPurchaseOrderTransition(Conflict):
    code = "invalid_transition"
    default_message = "The purchase order's status does not allow this."


class InvalidRequisitionTransition(Conflict):
    code = "invalid_transition"
    default_message = "The requisition's status does not allow this."


class PurchaseOrderFrozen(Conflict):
    code = "purchase_order_frozen"
    default_message = "The purchase order is submitted or approved: revise it to change it."


class NotSoldBySupplier(ValidationFailed):
    code = "not_sold_by_supplier"
    default_message = "The supplier does not sell this SKU."


class UnknownUnit(ValidationFailed):
    code = "unknown_uom"
    default_message = "The item has no such unit."


class InvalidQuantity(ValidationFailed):
    code = "invalid_quantity"
    default_message = "Quantities must be more than 0."


class InvalidPrice(ValidationFailed):
    code = "invalid_price"
    default_message = "Prices must be more than 0."


class BelowMinimumOrder(ValidationFailed):
    code = "below_minimum_order"
    default_message = "The quantity is below the supplier's minimum order or not a whole number of packs."


class NoSupplier(ValidationFailed):
    code = "no_supplier"
    default_message = "A line needs a supplier: name one, or make one preferred for the SKU."


class NotReceivable(Conflict):
    code = "not_receivable"
    default_message = "Only an approved or sent purchase order can be received."


class OverReceipt(Conflict):
    code = "over_receipt"
    default_message = "The receipt exceeds the ordered quantity beyond procurement.over_receipt_tolerance."


class LotRequired(ValidationFailed):
    code = "lot_required"
    default_message = "A lot-tracked item is received with its lot."


class LotNotAllowed(ValidationFailed):
    code = "lot_not_allowed"
    default_message = "The item is not lot-tracked: give no lot."
