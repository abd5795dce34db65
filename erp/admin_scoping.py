"""The admin's share of the house rules: every read scoped, every write through a service.

``ScopedAdminMixin`` narrows what an admin page shows (changelists, change pages, history and the
choices of every foreign key) with ``scope_queryset``, exactly like the API: an object outside the
user's scope does not exist for them, so its change page redirects to the index like a deleted one.

``ServiceAdminMixin`` makes the add and change forms call the app's service instead of
``Model.save()``. A ``DomainError`` from the service is shown on the form that caused it (on the
field it names, else above the form), never as a 500. Nothing is ever deleted from here: no
service deletes master data; it is deactivated with its ``active`` flag instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from erp.exceptions import DomainError
from erp.scoping import ScopedBy, scope_queryset
from erp.transactions import joined_command

_REFUSAL_ATTR = "_concord_admin_refusal"

# The mixins below are mixed into admin classes: at run time their ``super()`` is the ``ModelAdmin`` or inline
# they precede, which the type checker is told by giving them that base while it checks, and only then.
if TYPE_CHECKING:
    _AdminBase = admin.options.BaseModelAdmin[Any]
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = _ModelAdminBase = object


class ScopedAdminMixin(_AdminBase):
    """Scope every queryset of a ``ModelAdmin`` or inline to ``request.user``.

    ``fk_select_related`` names, per foreign key, the relations its choice labels need, so a
    dropdown renders in one query (``{"parent": ("warehouse",)}``). Viewing and changing follow the
    model permissions of the user's role, as in any ``ModelAdmin``; the scope decides which rows.
    """

    fk_select_related: dict[str, tuple[str, ...]] = {}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.remote_field.model
        if "queryset" not in kwargs and isinstance(getattr(related, "scoped_by", None), ScopedBy):
            queryset = self.get_field_queryset(None, db_field, request)
            if queryset is None:
                queryset = related._default_manager.all()
            related_names = self.fk_select_related.get(db_field.name, ())
            if related_names:
                queryset = queryset.select_related(*related_names)
            kwargs["queryset"] = scope_queryset(queryset, request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """No service deletes master data (documents refer to it); it is deactivated instead."""
        return False


class ReadOnlyInlineMixin(ScopedAdminMixin):
    """An inline shown for reference only; the API, CSV import and the parent's service write it."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or [f.name for f in self.model._meta.fields if f.editable and not f.primary_key]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ScopedReadOnlyAdmin(ScopedAdminMixin, admin.ModelAdmin[Any]):
    """Scoped and viewable, never written from the admin: services, the approval engine and
    database triggers write these rows (ledgers, approvals, audit events)."""

    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in self.model._meta.fields]


class ServiceRefused(Exception):
    """A service refused the admin's save; carries the ``DomainError`` back to the form."""

    def __init__(self, error: DomainError) -> None:
        self.error = error
        super().__init__(error.message)


def _form_refused_by(form_class: type[forms.ModelForm[Any]], error: DomainError) -> type[forms.ModelForm[Any]]:
    """``form_class`` again, made invalid by ``error`` on the fields it names."""

    def clean(self: forms.ModelForm[Any]) -> Any:
        cleaned = super(refused, self).clean()
        elsewhere = []
        for field, messages in (error.detail or {}).items():
            messages = messages if isinstance(messages, list) else [messages]
            if field in self.fields:
                self.add_error(field, [str(m) for m in messages])
            elif field == "non_field_errors":
                elsewhere += [str(m) for m in messages]
            else:
                elsewhere += [f"{field}: {m}" for m in messages]
        if elsewhere or not self.errors:
            self.add_error(None, [error.message, *elsewhere])
        return cleaned

    refused: type[forms.ModelForm[Any]] = type(form_class.__name__, (form_class,), {"clean": clean})
    return refused


class ServiceAdminMixin(_ModelAdminBase):
    """Add and change forms save through ``save_via_service``; refusals become form errors.

    The admin wraps a save in its own transaction, so the service joins it (``joined_command``):
    the change and its admin log entry commit together. When the service raises a ``DomainError``
    the whole attempt rolls back and the form is validated again with the refusal added, which
    renders it with the errors and saves nothing.
    """

    def save_via_service(self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool) -> Model:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool) -> None:
        try:
            saved = self.save_via_service(request, obj, form, change)
        except DomainError as error:
            raise ServiceRefused(error) from error
        # The admin goes on with ``obj`` (its redirect, its log entry): make it the saved row.
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.db = saved._state.db

    def save_related(self, request: HttpRequest, form: forms.ModelForm[Any], formsets: Any, change: bool) -> None:
        """Inlines are read-only and the master-data models have no many-to-many fields: nothing to save."""

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        view = super().changeform_view
        with joined_command():
            try:
                return view(request, object_id, form_url, extra_context)
            except ServiceRefused as refused:
                setattr(request, _REFUSAL_ATTR, refused.error)
                return view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, _REFUSAL_ATTR, None)
        return _form_refused_by(form_class, error) if error is not None else form_class

    @staticmethod
    def fields_for(form: forms.ModelForm[Any], allowed: tuple[str, ...]) -> dict[str, Any]:
        """The form's cleaned values of the fields a service accepts."""
        return {name: form.cleaned_data[name] for name in allowed if name in form.cleaned_data}


class MasterDataAdmin(ServiceAdminMixin, ScopedAdminMixin, admin.ModelAdmin[Any]):
    """The base of every master-data admin: scoped reads, writes through the app's services.

    ``natural_key_fields`` are the object's identity (``code``, ``sku``): set on add, read-only after.
    """

    natural_key_fields: tuple[str, ...] = ("code",)
    list_per_page = 100
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, *self.natural_key_fields] if obj is not None else readonly
