"""``POST /api/v1/auth/token/`` issues a token; ``DELETE`` revokes the one in use."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from erp import login_guard, services
from erp.api.serializers import ErrorSerializer, StrictInputSerializer
from erp.exceptions import DomainError
from erp.models import ApiToken


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 400
    default_message = "Unable to log in with the given username and password."


@extend_schema_serializer(component_name="Credentials")
class TokenRequest(StrictInputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class TokenView(APIView):
    """Exchange a username and password for an API token, shown once: send it as ``Authorization: Token <token>``.

    Only a digest of the token is stored. Each call issues a new token; revoke one with
    ``DELETE /api/v1/auth/token/revoke/``. A wrong password and an unknown user get the same 400.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    @extend_schema(
        request=TokenRequest,
        responses={201: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request: Any) -> Response:
        data = TokenRequest(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        login_guard.check_allowed(username)
        user = authenticate(request, username=username, password=data.validated_data["password"])
        if user is None or not user.is_active:
            login_guard.record_failure(username)
            raise InvalidCredentials()
        login_guard.clear(username)
        token = services.api_token_issue(user=user, name=data.validated_data.get("name", ""), actor=user)
        return Response({"token": token}, status=status.HTTP_201_CREATED)


class TokenRevokeView(APIView):
    """Revoke the token this request is authenticated with; it is refused from then on."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None, 400: ErrorSerializer})
    def delete(self, request: Any) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise InvalidCredentials("Revoke a token by calling this with that token.")
        services.api_token_revoke(token_id=request.auth.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
