"""Domain errors of the orders app."""

from erp.exceptions import Conflict, ValidationFailed


class HomeWarehouseOutsideRegion(ValidationFailed):
    code = "home_warehouse_outside_region"
    default_message = "A customer's home warehouse must be in the customer's region."


class InvalidOrderTransition(Conflict):
    code = "invalid_transition"
    default_message = "The order cannot move from its status to the one asked for."


class DuplicateExternalRef(Conflict):
    code = "duplicate_external_ref"
    default_message = "This customer already has an order with this external reference."


class ShipToNotOfCustomer(ValidationFailed):
    code = "unknown_ship_to"
    default_message = "The ship-to address is not one of the customer's."


# --- packing and shipping (orders.services.shipping) -------------------------------------------------------


class NothingPicked(Conflict):
    code = "nothing_picked"
    default_message = "Nothing of this order is picked and waiting to be packed at this warehouse."


class InvalidShipmentTransition(Conflict):
    code = "invalid_transition"
    default_message = "The shipment cannot move from its status to the one asked for."


class DocumentsMissing(Conflict):
    code = "documents_missing"
    default_message = "Documents required for shipment are missing."


class CarrierRequired(ValidationFailed):
    code = "carrier_required"
    default_message = "Name the carrier that takes the shipment."


class PickUnsettled(Conflict):
    code = "pick_unsettled"
    default_message = "A picked line no longer matches the stock held for it."


# --- picking (orders.services.picking) ---------------------------------------------------------------------


class InvalidPickListTransition(Conflict):
    code = "invalid_transition"
    default_message = "The pick list cannot move from its status to the one asked for."


class NothingToPick(Conflict):
    code = "nothing_to_pick"
    default_message = "No allocated stock waits to be picked here."


class OverPick(ValidationFailed):
    code = "over_pick"
    default_message = "A line cannot be picked for more than it asks."


# --- returns (orders.services.returns) ---------------------------------------------------------------------


class InvalidReturnTransition(Conflict):
    code = "invalid_transition"
    default_message = "The return cannot move from its status to the one asked for."


class LineNotShipped(ValidationFailed):
    code = "line_not_shipped"
    default_message = "Only shipped order lines can be returned."


class ReturnExceedsShipped(ValidationFailed):
    code = "return_exceeds_shipped"
    default_message = "More would come back than shipped (less what other returns already hold)."


class ReturnExceedsAuthorized(ValidationFailed):
    code = "return_exceeds_authorized"
    default_message = "More was received than the return authorized."


class DispositionRequired(ValidationFailed):
    code = "disposition_required"
    default_message = "This warehouse inspects returns: every line received needs its disposition."
