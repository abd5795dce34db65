"""Admin for the platform's own tables: API tokens (revocable, never editable) and idempotency keys.

Neither table is network data, so neither goes through ``scope_queryset``: a token or a key
belongs to a user, and the admin shows a user only their own rows unless they are a superuser.
Tokens are issued through the API (the plain token is shown once, there); the admin only
revokes them, through ``erp.services.api_token_revoke``. The digest is never displayed.

Users are administered here too (``ScopedUserAdmin``), within the administrator's scope, through the same
services as the Users screen and ``users/`` in the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from erp import services
from erp.exceptions import DomainError
from erp.models import ApiToken, IdempotencyKey
from erp.selectors import ScopeSpec, may_manage_users, users_administered_by

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


# --- users: their roles and scope ------------------------------------------------------------------------------


class ScopedUserAdmin(UserAdmin):  # type: ignore[type-arg]  # the stubs' UserAdmin is generic, Django's is not
    """Django's user admin, narrowed to the users the reader administers (``users_administered_by``).

    A superuser keeps the whole of it. An administrator sees only users inside their scope, read-only, and
    grants or revokes roles and scope with the two actions, which call ``erp.services`` (inside the
    administrator's scope, audited) like the Users screen; editing groups or permissions by hand here would
    bypass that check, so only a superuser may.
    """

    actions = ["grant_access", "revoke_access"]
    list_display = ["username", "email", "first_name", "last_name", "is_active", "is_staff"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        if request.user.is_superuser:
            return super().get_queryset(request)
        return users_administered_by(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return may_manage_users(request.user)

    def _apply(self, request: HttpRequest, queryset: QuerySet[Any], call: Any, done: str) -> None:
        changed = 0
        for username in queryset.order_by("username").values_list("username", flat=True):
            try:
                call(username)
            except DomainError as exc:
                self.message_user(request, f"{username}: {exc.message}", messages.ERROR)
            else:
                changed += 1
        self.message_user(request, f"{done} for {changed} user(s).", messages.SUCCESS)

    def _access_action(self, request: HttpRequest, queryset: QuerySet[Any], *, revoke: bool) -> HttpResponse | None:
        from erp.user_screens import AccessForm

        if "apply" in request.POST:
            form = AccessForm(request.POST, actor=request.user)
            if form.is_valid():
                roles, scope_asked = form.cleaned_data["roles"], form.scope()
                scope: ScopeSpec | None = scope_asked
                if revoke and scope_asked.type != "enterprise" and not (scope_asked.regions or scope_asked.warehouses):
                    scope = None  # revoking roles only
                if revoke:
                    self._apply(request, queryset, lambda name: services.user_access_revoke(
                        username=name, actor=request.user, roles=roles, scope=scope), "Revoked")
                else:
                    self._apply(request, queryset, lambda name: services.user_access_set(
                        username=name, actor=request.user, roles=roles, scope=scope), "Granted")
                return None
        else:
            form = AccessForm(actor=request.user, initial={"scope_type": "warehouses"})
        return render(request, "users/admin_access_action.html", {
            **self.admin_site.each_context(request), "title": "Revoke roles and scope" if revoke else
            "Grant roles and scope (replacing what they have)", "form": form, "users": queryset,
            "action": "revoke_access" if revoke else "grant_access", "opts": self.model._meta,
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME)})

    @admin.action(description="Grant roles and scope (replacing theirs)", permissions=["manage"])
    def grant_access(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._access_action(request, queryset, revoke=False)

    @admin.action(description="Revoke roles and scope", permissions=["manage"])
    def revoke_access(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._access_action(request, queryset, revoke=True)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), ScopedUserAdmin)
