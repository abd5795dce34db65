"""The API's one request parser: JSON, where every malformed body is a 4xx, never a 500."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class ApiJSONParser(JSONParser):
    """DRF's JSON parser, bounded in size and depth.

    DRF reads the body as a stream, which bypasses Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``; the
    limit is applied here instead (413). And the standard library raises ``RecursionError``, not
    ``ValueError``, for a body nested thousands deep, which DRF would let through as a 500.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if stream is not None and limit is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
            stream = io.BytesIO(body)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
