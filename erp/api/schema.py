"""The OpenAPI schema class: the conventions every endpoint shares, written into each operation.

drf-spectacular documents each view's success response; this adds what ``erp.api`` guarantees
everywhere, so integrators read it in the schema rather than in prose: the one error shape
(``Error``) for 400/401/403/404/409, and the ``Idempotency-Key`` header on creating and other
idempotent POSTs. ``tests/test_api_fuzz.py`` holds the schema to what the API really answers.
"""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from erp.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from erp.api.idempotency import MAX_KEY_LENGTH
from erp.api.serializers import ErrorSerializer

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Query parameters that never answer 400: a page past the end is a 404, a page size is clamped.
PAGINATION_PARAMETERS = frozenset({"page", "page_size"})
# Docstrings of these modules are written for Concord's developers, not for integrators.
FRAMEWORK_MODULES = ("erp.api.views", "rest_framework.", "django.", "builtins")


def _own_doc(obj: Any) -> str:
    if obj is None or getattr(obj, "__module__", "").startswith(FRAMEWORK_MODULES):
        return ""
    return inspect.cleandoc(obj.__doc__ or "")


class ApiAutoSchema(AutoSchema):
    def is_idempotent_create(self) -> bool:
        """Every viewset ``create`` goes through ``erp.api.idempotency`` (the API contract)."""
        return self.method == "POST" and getattr(self.view, "action", None) == "create"

    def is_idempotent_post(self) -> bool:
        """A create, or a POST action the viewset lists in ``idempotent_actions`` (its body goes through
        ``erp.api.idempotency`` too: confirm, submit, cancel...)."""
        action = getattr(self.view, "action", None)
        return self.method == "POST" and (
            action == "create" or action in getattr(self.view, "idempotent_actions", frozenset()))

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.is_idempotent_post():
            parameters.append(OpenApiParameter(
                IDEMPOTENCY_HEADER,
                {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                OpenApiParameter.HEADER,
                description=(
                    "Send a unique key (a UUID) to make the call safe to retry: the same key with the same "
                    "body returns the first response again, with the same key and another body is a 409."
                ),
            ))
        return parameters

    def get_description(self) -> str:  # type: ignore[override]  # AutoSchema's takes no arguments, DRF's base (path, method): drf-spectacular ignores the same
        """The action's docstring, else the view's own; never one inherited from DRF or ``erp.api.views``."""
        view_class = type(self.view)
        action = getattr(self.view, "action", None) or self.method.lower()
        described = _own_doc(getattr(view_class, action, None))
        if not described:
            described = next((doc for doc in map(_own_doc, view_class.__mro__) if doc), "")
        return described

    def get_response_serializers(self) -> Any:
        """Writes through ``MasterDataViewSet`` answer with the output serializer, not the input one."""
        output = getattr(self.view, "output_serializer_class", None)
        if output is not None and getattr(self.view, "action", None) in {"create", "update", "partial_update"}:
            return output
        return super().get_response_serializers()

    def _get_serializer_field_meta(self, field: Any, direction: str) -> dict[str, Any]:
        """An output field declared with ``default=None`` answers ``null`` when its source is missing (a move
        without a lot, an exception nobody acknowledged yet): say so, as ``allow_null`` would."""
        meta: dict[str, Any] = super()._get_serializer_field_meta(field, direction)  # type: ignore[no-untyped-call]  # drf-spectacular leaves this private hook unannotated
        if direction == "response" and isinstance(field, serializers.Field) and field.default is None:
            meta["nullable"] = True
        return meta

    def _error_responses(self, operation: dict[str, Any]) -> dict[str, str]:
        errors: dict[str, str] = {}
        query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        if self.method in WRITE_METHODS and self.method != "DELETE":
            errors["400"] = "Malformed or invalid input; field errors are in `detail`."
        elif query - PAGINATION_PARAMETERS:
            errors["400"] = "A missing or invalid query parameter; the parameter's errors are in `detail`."
        if operation.get("security"):
            errors["401"] = "Not authenticated: no, an unknown, an expired or a revoked token."
            errors["403"] = "Authenticated, but the role may not do this."
        if "{" in self.path:
            errors["404"] = "Not found, or outside the caller's scope."
        elif "page" in query:
            errors["404"] = "No such page: `page` is past the last page."
        if self.method in WRITE_METHODS and getattr(self.view, "action", None):
            errors["409"] = (
                "The Idempotency-Key was already used with another request."
                if self.is_idempotent_create()
                else "The current state forbids it."
            )
        return errors

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str,
                      registry: Any) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        for status, description in self._error_responses(operation).items():
            operation["responses"].setdefault(
                status, {"description": description, "content": {"application/json": {"schema": error}}}
            )
        return operation
