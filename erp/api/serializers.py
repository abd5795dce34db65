"""Serializer bases: unknown fields are an error, not silently dropped."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
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


class ErrorSerializer(serializers.Serializer):
    """The documented error shape (for the OpenAPI schema)."""

    code = serializers.CharField()
    message = serializers.CharField()
    detail = serializers.DictField()
