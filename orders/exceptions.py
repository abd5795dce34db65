"""Domain errors of the orders app."""

from erp.exceptions import ValidationFailed


class HomeWarehouseOutsideRegion(ValidationFailed):
    code = "home_warehouse_outside_region"
    default_message = "A customer's home warehouse must be in the customer's region."
