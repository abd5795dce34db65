"""Model validation inside services, raised as the domain's ``ValidationFailed`` (400)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Model

from erp.constraints import explain_validation
from erp.exceptions import ValidationFailed


def clean_or_raise(instance: Model, *, exclude: Iterable[str] | None = None) -> None:
    """Run the model's field validators and unique checks; any failure is a 400 with field errors."""
    try:
        instance.full_clean(exclude=list(exclude or []))
    except ValidationError as exc:
        detail = {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in explain_validation(type(instance), exc.message_dict).items()
        }
        raise ValidationFailed(detail=detail) from exc
