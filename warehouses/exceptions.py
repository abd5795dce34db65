"""Domain errors of the network app."""

from erp.exceptions import ValidationFailed


class LocationParentMismatch(ValidationFailed):
    code = "location_parent_mismatch"
    default_message = "A location's parent must be in the same warehouse."
