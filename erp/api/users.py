"""``users/``: users, their roles and their scope, for administrators (api-v1, "Users and scope").

A caller sees and changes only the users whose whole scope lies inside their own
(``erp.selectors.users_administered_by``; anyone else is a 404), and grants only inside it (403
``outside_scope``). ``roles`` and ``scope`` replace what the user had; every change is audited by the
triggers on the users and grants tables.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from erp import services
from erp.api.idempotency import idempotent
from erp.api.serializers import StrictInputSerializer, WholeObjectInput
from erp.roles import ROLE_BY_KEY
from erp.selectors import SCOPE_TYPES, ScopeSpec, attach_access, may_manage_users, user_access, users_administered_by


class MayManageUsers(BasePermission):
    """Administrators (the role's ``auth.change_user``) and superusers; everyone else 403."""

    message = "Only an administrator may manage users."

    def has_permission(self, request: Any, view: Any) -> bool:
        return may_manage_users(request.user)


class ScopeInput(WholeObjectInput):
    type = serializers.ChoiceField(choices=SCOPE_TYPES)
    regions = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=100)
    warehouses = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=500)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["type"]
        extra = [name for name in ("regions", "warehouses") if attrs.get(name) and name != kind]
        if extra:
            raise serializers.ValidationError({name: [f"Not part of a scope of type {kind}."] for name in extra})
        if kind != "enterprise" and not attrs.get(kind):
            raise serializers.ValidationError({kind: [f"Name at least one of the {kind} to grant."]})
        return attrs


class UserUpdateInput(StrictInputSerializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    roles = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=20)
    scope = ScopeInput(required=False)

    def validate_roles(self, roles: list[str]) -> list[str]:
        unknown = [key for key in roles if key not in ROLE_BY_KEY]
        if unknown:
            raise serializers.ValidationError(
                [f"Unknown role {key}; the roles are {', '.join(ROLE_BY_KEY)}." for key in unknown])
        return roles


class UserCreateInput(UserUpdateInput):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(required=False, write_only=True, max_length=128,
                                     style={"input_type": "password"})


class UserOutput(serializers.Serializer[Any]):
    username = serializers.CharField()
    email = serializers.CharField()
    active = serializers.BooleanField(source="is_active")
    roles = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()

    def get_roles(self, user: Any) -> list[str]:
        return list(user.access.roles)

    def get_scope(self, user: Any) -> dict[str, Any]:
        shown: dict[str, Any] = user.access.scope.as_dict()
        return shown


def _scope(data: dict[str, Any] | None) -> ScopeSpec | None:
    if data is None:
        return None
    return ScopeSpec(data["type"], tuple(data.get("regions") or ()), tuple(data.get("warehouses") or ()))


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]):
    """Users inside the caller's scope, addressed by username."""

    permission_classes = [MayManageUsers]
    lookup_field = "username"
    lookup_value_regex = "[^/]+"
    serializer_class = UserOutput
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[User]:
        return users_administered_by(self.request.user).order_by("username")

    def get_serializer_class(self) -> Any:
        return {"create": UserCreateInput, "partial_update": UserUpdateInput}.get(self.action, UserOutput)

    def output(self, user: User, status_code: int = status.HTTP_200_OK) -> Response:
        user.access = user_access([user])[user.pk]  # type: ignore[attr-defined]  # read model, see attach_access
        return Response(UserOutput(user).data, status=status_code)

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(UserOutput(attach_access(list(page or [])), many=True).data)

    def retrieve(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.output(self.get_object())

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        def produce() -> Response:
            serializer = UserCreateInput(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            user = services.user_access_set(
                username=data["username"], actor=request.user, create=True, email=data.get("email", ""),
                active=data.get("active", True), roles=data.get("roles", []),
                scope=_scope(data.get("scope")), password=data.get("password"))
            return self.output(user, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        serializer = UserUpdateInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.user_access_set(
            username=kwargs["username"], actor=request.user, email=data.get("email"), active=data.get("active"),
            roles=data.get("roles"), scope=_scope(data.get("scope")))
        return self.output(user)


router = SimpleRouter(trailing_slash=True)
router.register("users", UserViewSet, basename="user")
