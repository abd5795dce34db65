"""Domain errors of transfers: each a stable code and an HTTP status (``erp.exceptions``)."""

from erp.exceptions import Conflict, ValidationFailed


class InvalidTransferTransition(Conflict):
    code = "invalid_transition"
    default_message = "The transfer's status does not allow this."


class SameWarehouse(ValidationFailed):
    code = "same_warehouse"
    default_message = "A transfer moves stock between two different warehouses."


class NoCarrierLane(ValidationFailed):
    code = "no_carrier_lane"
    default_message = "No carrier lane connects the two warehouses' regions."


class NoTransitLocation(ValidationFailed):
    code = "no_transit_location"
    default_message = "The receiving warehouse has no active transit location."


class ExceedsApproved(Conflict):
    code = "exceeds_approved"
    default_message = "A line may not dispatch more than the transfer approved."


class NothingInTransit(Conflict):
    code = "nothing_in_transit"
    default_message = "Nothing of this line is in transit any more."


class RecommendationNotOpen(Conflict):
    code = "recommendation_not_open"
    default_message = "Only an open recommendation can be accepted or dismissed."
