"""Token authentication against hashed, revocable tokens (``Authorization: Token <token>``)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from erp.models import ApiToken

MAX_TOKEN_LENGTH = 128


class HashedTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Token <token>' with exactly one token.")
        raw = header[1]
        if not raw.isascii() or not raw.isprintable() or len(raw) > MAX_TOKEN_LENGTH:
            # Issued tokens are short URL-safe ASCII; anything else cannot match and is refused unhashed.
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        token = (
            ApiToken.objects.select_related("user")
            .filter(digest=ApiToken.digest_of(raw))
            .first()
        )
        if token is None or not token.active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
            # Bookkeeping only, throttled to one write per five minutes per token.
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class HashedTokenScheme(OpenApiAuthenticationExtension):
    target_class = HashedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token-based authentication: `Token <token>` from POST /api/v1/auth/token/.",
        }
