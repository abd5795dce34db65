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
