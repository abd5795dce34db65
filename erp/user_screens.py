"""Users, their roles and their scope, for administrators: a list and one page per user to grant and revoke.

An administrator sees only the users whose whole scope lies inside their own and is offered only regions
and warehouses inside it (``erp.selectors.users_administered_by``); the service checks both again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.views import View

from erp import services
from erp.exceptions import DomainError, NotFound
from erp.roles import ROLES
from erp.scoping import scope_of
from erp.screens import Column, ScreenAccessMixin, ScreenListView
from erp.search import matching
from erp.selectors import (
    MANAGE_USERS_PERMISSION,
    ScopeSpec,
    attach_access,
    user_access,
    users_administered_by,
)
from governance.audit import access_history
from warehouses.selectors import warehouses_for


class UserListView(ScreenListView[User]):
    model = User
    permission_required = MANAGE_USERS_PERMISSION
    template_name = "users/user_list.html"
    rows_template_name = "users/_user_rows.html"
    title = "Users"
    search_fields = ("username", "email", "first_name", "last_name")
    search_placeholder = "Username, name or email"
    columns = (
        Column("Username", "username", sort="username"),
        Column("Email", "email", sort="email", css="col-opt"),
        Column("Roles"),
        Column("Scope"),
        Column("Status", lambda user: "active" if user.is_active else "inactive", sort="is_active", css="col-opt"),
    )
    default_sort = "username"

    def get_queryset(self) -> QuerySet[User]:
        # Users have no network scope rule: the administrator's own scope decides which users they see.
        queryset = users_administered_by(self.request.user)
        term = self.search_term()
        if term:
            queryset = queryset.filter(matching(self.search_fields, term))
        return self.sorted(queryset)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["object_list"] = attach_access(list(context["object_list"]))
        return context


def _region_choices(actor: Any) -> list[tuple[str, str]]:
    from warehouses.models import Region

    scope = scope_of(actor)
    regions = Region.objects.order_by("code")
    return [(r.code, f"{r.code} {r.name}") for r in regions if scope.covers_whole_region(r.pk)]


def _warehouse_choices(actor: Any) -> list[tuple[str, str]]:
    return [(w.code, f"{w.code} {w.name}") for w in warehouses_for(actor).order_by("code")]


class AccessForm(forms.Form):
    """Roles and scope, offered only as far as the administrator's own scope reaches."""

    roles = forms.MultipleChoiceField(choices=[(role.key, role.group) for role in ROLES], required=False,
                                      widget=forms.CheckboxSelectMultiple)
    scope_type = forms.ChoiceField(label="Scope", widget=forms.RadioSelect, choices=[
        ("enterprise", "The whole enterprise"), ("regions", "Regions"), ("warehouses", "Warehouses")])
    regions = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    warehouses = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region_field, warehouse_field = self.fields["regions"], self.fields["warehouses"]
        scope_field = self.fields["scope_type"]
        assert isinstance(region_field, forms.ChoiceField) and isinstance(warehouse_field, forms.ChoiceField)
        assert isinstance(scope_field, forms.ChoiceField)
        region_field.choices = _region_choices(actor)
        warehouse_field.choices = _warehouse_choices(actor)
        if not scope_of(actor).enterprise:
            scope_field.choices = [("regions", "Regions"), ("warehouses", "Warehouses")]

    def scope(self) -> ScopeSpec:
        kind = self.cleaned_data["scope_type"]
        return ScopeSpec(kind, tuple(self.cleaned_data["regions"]) if kind == "regions" else (),
                         tuple(self.cleaned_data["warehouses"]) if kind == "warehouses" else ())

    def show_refusal(self, error: DomainError) -> None:
        placed = False
        for name, problems in (error.detail or {}).items():
            target = "scope_type" if name == "scope" else name
            if target in self.fields:
                self.add_error(target, problems if isinstance(problems, list) else [str(problems)])
                placed = True
        if not placed:
            self.add_error(None, error.message)


class UserAccessForm(AccessForm):
    """The account (username on creation, email, a password, active) with its roles and scope."""

    username = forms.CharField(max_length=150, help_text="Letters, digits and @ . + - _ only.")
    email = forms.EmailField(required=False)
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                               help_text="The user's first password; leave empty to keep the current one.")
    active = forms.BooleanField(required=False, initial=True)
    field_order = ["username", "email", "password", "active", "roles", "scope_type", "regions", "warehouses"]

    def __init__(self, *args: Any, actor: Any, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, actor=actor, **kwargs)
        if not creating:
            self.fields["username"].disabled = True
            self.fields["password"].label = "New password"


class UserAccessView(ScreenAccessMixin, View):
    """``users/new/`` creates a user; ``users/<username>/`` changes one, with the history of their access."""

    permission_required = MANAGE_USERS_PERMISSION
    template_name = "users/user_access.html"

    def target(self, username: str | None) -> User | None:
        if username is None:
            return None
        user = users_administered_by(self.request.user).filter(username=username).first()
        if user is None:
            raise Http404("No such user in your scope.")
        return user

    def initial(self, user: User | None) -> dict[str, Any]:
        if user is None:
            return {"active": True, "scope_type": "warehouses"}
        access = user_access([user])[user.pk]
        kind = access.scope.type if access.scope.type in ("enterprise", "regions", "warehouses") else "warehouses"
        return {"username": user.username, "email": user.email, "active": user.is_active, "roles": access.roles,
                "scope_type": kind, "regions": list(access.scope.regions),
                "warehouses": list(access.scope.warehouses)}

    def page(self, request: HttpRequest, form: UserAccessForm, user: User | None, status: int = 200) -> HttpResponse:
        context = {"form": form, "target": user, "creating": user is None,
                   "access": user_access([user])[user.pk] if user is not None else None,
                   "history": access_history(user, request.user) if user is not None else []}
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, username: str | None = None) -> HttpResponse:
        user = self.target(username)
        return self.page(request, UserAccessForm(initial=self.initial(user), actor=request.user,
                                                 creating=user is None), user)

    def post(self, request: HttpRequest, username: str | None = None) -> HttpResponse:
        user = self.target(username)
        form = UserAccessForm(request.POST, initial=self.initial(user), actor=request.user, creating=user is None)
        if not form.is_valid():
            return self.page(request, form, user, status=400)
        data = form.cleaned_data
        try:
            saved = services.user_access_set(
                username=data["username"] if user is None else user.username, actor=request.user,
                create=user is None, email=data["email"], active=data["active"], roles=data["roles"],
                scope=form.scope(), password=data["password"] or None)
        except NotFound as exc:
            raise Http404("No such user in your scope.") from exc
        except DomainError as error:
            form.show_refusal(error)
            return self.page(request, form, user, status=400 if error.status < 500 else error.status)
        messages.success(request, f"Saved {saved.username}: roles and scope as shown.")
        return HttpResponseRedirect(reverse("users:user-access", args=[saved.username]))


app_name = "users"
urlpatterns = [
    path("users/", UserListView.as_view(), name="user-list"),
    path("users/new/", UserAccessView.as_view(), name="user-new"),
    path("users/<str:username>/", UserAccessView.as_view(), name="user-access"),
]
