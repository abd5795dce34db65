"""Admin for the platform's own tables: API tokens (revocable, never editable) and idempotency keys.

Neither table is network data, so neither goes through ``scope_queryset``: a token or a key
belongs to a user, and the admin shows a user only their own rows unless they are a superuser.
Tokens are issued through the API (the plain token is shown once, there); the admin only
revokes them, through ``erp.services.api_token_revoke``. The digest is never displayed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from erp import services
from erp.exceptions import DomainError
from erp.models import ApiToken, IdempotencyKey

_TOKEN_FIELDS = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
_KEY_FIELDS = ("user", "key", "method", "path", "request_hash", "status_code", "response_body", "created_at")


class _OwnRowsReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows are written by services only: no add, change or delete here."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request).select_related("user")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(_OwnRowsReadOnlyAdmin):
    list_display = ["prefix", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at", "is_active"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    fields = readonly_fields = _TOKEN_FIELDS
    actions = ["revoke"]

    @admin.display(boolean=True, description="active")
    def is_active(self, token: ApiToken) -> bool:
        return token.active

    @admin.action(description="Revoke the selected tokens", permissions=["view"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token_id in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            try:
                services.api_token_revoke(token_id=token_id, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"Token {token_id}: {exc.message}", messages.ERROR)
            else:
                revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(_OwnRowsReadOnlyAdmin):
    list_display = ["key", "user", "method", "path", "status_code", "created_at"]
    list_filter = ["method", "status_code"]
    search_fields = ["key", "user__username", "path"]
    date_hierarchy = "created_at"
    fields = readonly_fields = _KEY_FIELDS
