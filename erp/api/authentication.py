"""Token authentication against hashed, revocable tokens (``Authorization: Token <token>``).

Every API request asks ``has_perm`` at least once (``RoleModelPermissions``, the caller's scope), and Django's
``ModelBackend`` answers from caches it fills on the user object with two queries, for a user object that lives
for one request. So the token, its user and the user's permissions are read in one statement, and the user's
caches filled from it. The statement is written out once rather than composed by the ORM on every request:
composing the three queries took longer than PostgreSQL took to run them (3 ms a request, now under 1 ms), and it
is a prepared statement (``erp.prepared``), planned once per connection rather than on every request.
Nothing is kept between requests, so a revoked token, a deactivated user or a role or scope taken away counts
from the very next request.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from erp import prepared
from erp.models import ApiToken

MAX_TOKEN_LENGTH = 128

# ``app_label.codename`` of a permission, the form ``ModelBackend`` caches (``django.contrib.auth``'s tables).
_PERMISSION_NAMES = (
    "ARRAY(SELECT ct.app_label || '.' || p.codename FROM {link} JOIN auth_permission p ON p.id = x.permission_id"
    " JOIN django_content_type ct ON ct.id = p.content_type_id WHERE {owner} = t.user_id)"
)


@functools.cache
def _lookup() -> tuple[str, list[str], list[str]]:
    """The statement that finds a token by digest with its user and the user's direct and group permission
    names, and the attribute names of the token's and the user's columns in it, in order."""
    user_model = get_user_model()
    token_fields, user_fields = ApiToken._meta.concrete_fields, user_model._meta.concrete_fields
    columns = [f"t.{f.column}" for f in token_fields] + [f"u.{f.column}" for f in user_fields]
    direct = _PERMISSION_NAMES.format(link="auth_user_user_permissions x", owner="x.user_id")
    grouped = _PERMISSION_NAMES.format(
        link="auth_user_groups g JOIN auth_group_permissions x ON x.group_id = g.group_id", owner="g.user_id")
    sql = (f"SELECT {', '.join(columns)}, {direct}, {grouped} FROM {ApiToken._meta.db_table} t"  # nosec B608 # names come from the models' meta and this module's constants; the digest is bound
           f" JOIN {user_model._meta.db_table} u ON u.{user_model._meta.pk.column} = t.user_id WHERE t.digest = %s")
    return sql, [f.attname for f in token_fields], [f.attname for f in user_fields]


def token_with_user(digest: str) -> ApiToken | None:
    """The token with ``digest``, its ``user`` loaded and that user's permission caches filled (see
    ``remember_permissions``), in one query; None when no token has that digest."""
    sql, token_names, user_names = _lookup()
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(token_names)
    token = ApiToken.from_db(connection.alias, token_names, row[:split])
    token.user = get_user_model().from_db(connection.alias, user_names, row[split:split + len(user_names)])
    remember_permissions(token.user, direct=row[-2], grouped=row[-1])
    return token


def remember_permissions(user: Any, *, direct: list[str], grouped: list[str]) -> None:
    """Fill the permission caches ``ModelBackend`` fills on a user's first ``has_perm`` (the same attributes, the
    same contents), so it reads them instead of querying. A superuser's are every permission and an inactive
    user's none: those are left to the backend."""
    if not user.is_active or user.is_superuser:
        return
    user._user_perm_cache = set(direct)
    user._group_perm_cache = set(grouped)
    user._perm_cache = user._user_perm_cache | user._group_perm_cache


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
        token = token_with_user(ApiToken.digest_of(raw))
        if token is None or not token.active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
            # Bookkeeping only, throttled to one write per five minutes per token.
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class HashedTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular registers extensions in an unannotated __init_subclass__
    target_class = HashedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token-based authentication: `Token <token>` from POST /api/v1/auth/token/.",
        }
