"""Serializer bases: unknown fields are an error, not silently dropped; output fields are built once."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.fields import Field, empty


class StrictInputSerializer(serializers.Serializer[Any]):
    """An input serializer that refuses fields it does not know, naming each one."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        elif not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Expected a JSON object, got {type(data).__name__}."]}
            )
        return super().to_internal_value(data)


class WholeObjectInput(StrictInputSerializer):
    """A nested object that replaces a whole row, so it is validated in full even inside a PATCH.

    DRF skips missing fields of every nested serializer when the root is partial; a list that
    replaces rows (an item's unit conversions, a customer's ship-tos) must still carry each row's
    required fields, or a PATCH could write half a row.
    """

    def run_validation(self, data: Any = empty) -> Any:
        # Left out of a PATCH altogether, an optional object is simply not changed (DRF skips it).
        if data is not empty and self.root is not self and getattr(self.root, "partial", False):
            whole = type(self)(data=data, context=self.context)
            whole.is_valid(raise_exception=True)
            return whole.validated_data
        return super().run_validation(data)


class BuiltOnceModelSerializer(serializers.ModelSerializer[Any]):
    """A ModelSerializer whose fields are worked out from the model once per class rather than per instance.

    DRF inspects the model afresh for every serializer instance (the field mapping, the uniqueness rules): a
    third of the time spent turning an order with its lines into its answer. Each instance gets fields of its
    own, as DRF gives each one copies of the declared fields: its nested serializers deep copies (they hold
    fields of their own), its plain fields shallow ones, which is all binding them needs (an output field keeps
    nothing but its name and parent per instance). Deep-copying a plain field calls its ``__init__`` again, and
    was half the time of an order's answer. For output serializers, whose fields depend on nothing but the
    class (not on the context, the instance or the data).
    """

    # Set on each subclass by its first ``get_fields`` (read from the class's own ``__dict__``, never inherited).
    _fields_built_once: ClassVar[dict[str, Field[Any, Any, Any, Any]]]

    def get_fields(self) -> dict[str, Field[Any, Any, Any, Any]]:
        cls = type(self)
        built: dict[str, Field[Any, Any, Any, Any]] | None = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built
        return {name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
                for name, field in built.items()}


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    """The one error shape (component ``Error``); ``erp.api.schema`` documents it on every operation."""

    code = serializers.CharField(help_text="Stable and machine-readable: `validation_error`, `not_found`, ...")
    message = serializers.CharField(help_text="For people; the wording may change between releases.")
    detail = serializers.DictField(help_text="Field errors for a 400, context for other errors; may be empty.")
