"""A database refusal in people's words: which field, and why, never a constraint's name.

PostgreSQL says which constraint, table and column refused a row (``diag``). ``explain`` finds the model and
constraint behind it and answers ``{field: [sentence]}``: a unique constraint names its fields ("A customer with
this code exists already."), a check constraint gives its ``violation_error_message`` when the model wrote one
and otherwise names the fields its condition reads, a missing value names its column's field, and a reference to
a row that is not there names the foreign key. The CSV import reports it on the row; the API in its error shape.
``explain_validation`` words the same check the same way when ``full_clean`` finds it before the database does.
"""

from __future__ import annotations

import functools
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q

NON_FIELD = "non_field_errors"

_UNIQUE, _CHECK, _FOREIGN_KEY, _NOT_NULL = "23505", "23514", "23503", "23502"


@functools.cache
def _models_by_table() -> dict[str, type[models.Model]]:
    return {model._meta.db_table: model for model in apps.get_models()}


def _field_by_column(model: type[models.Model], column: str) -> models.Field[Any, Any] | None:
    return next((field for field in model._meta.concrete_fields if field.column == column), None)


def _condition_fields(condition: Any) -> list[str]:
    """The field names a Q condition reads, in order (``quantity__gte`` -> ``quantity``)."""
    names: list[str] = []
    children = condition.children if isinstance(condition, Q) else []
    for child in children:
        if isinstance(child, Q):
            names += _condition_fields(child)
        elif isinstance(child, tuple) and child:
            names.append(str(child[0]).split("__")[0])
    return list(dict.fromkeys(names))


def _label(model: type[models.Model], name: str) -> str:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a name that is not a field: say it as it is
        return name.replace("_", " ")
    return str(getattr(field, "verbose_name", name.replace("_", " ")))


def _constraint(model: type[models.Model], name: str) -> Any:
    return next((c for c in model._meta.constraints if c.name == name), None)


def explain(exc: BaseException) -> dict[str, list[str]]:
    """``{field: [sentence]}`` for an IntegrityError (or DataError) from PostgreSQL; a generic sentence when the
    database did not say which constraint refused."""
    cause = exc.__cause__ or exc
    diag = getattr(cause, "diag", None)
    code = getattr(cause, "pgcode", None)
    table = getattr(diag, "table_name", None) or ""
    constraint = getattr(diag, "constraint_name", None) or ""
    column = getattr(diag, "column_name", None) or ""
    model = _models_by_table().get(table)
    if model is None:
        return {NON_FIELD: ["The database refused the change; nothing was written."]}
    thing = str(model._meta.verbose_name)
    if code == _NOT_NULL and column:
        field = _field_by_column(model, column)
        name = field.name if field is not None else column
        return {name: [f"Give the {_label(model, name)}."]}
    if code == _FOREIGN_KEY:
        field = next((f for f in model._meta.concrete_fields if f.is_relation and f.column in constraint), None)
        if field is not None:
            return {field.name: [f"The {_label(model, field.name)} does not exist (any more)."]}
        return {NON_FIELD: [f"The {thing} refers to something that does not exist (any more)."]}
    declared = _constraint(model, constraint)
    if code == _UNIQUE:
        fields = list(getattr(declared, "fields", ()) or ())
        if not fields:
            unique = [f for f in model._meta.concrete_fields if f.unique and f.column in constraint]
            fields = [unique[0].name] if unique else []
        if fields:
            which = " and ".join(_label(model, name) for name in fields)
            return {fields[-1]: [f"A {thing} with this {which} exists already."]}
        return {NON_FIELD: [f"This {thing} exists already."]}
    if code == _CHECK and declared is not None:
        return _explain_check(model, declared)
    primary = getattr(diag, "message_primary", None)
    if code == _CHECK and constraint and primary:
        # A trigger's refusal (``RAISE ... USING ERRCODE = 'check_violation', CONSTRAINT = ...``): its sentence is
        # written for the user.
        return {NON_FIELD: [str(primary)]}
    return {NON_FIELD: [f"The database refused this {thing}; nothing was written."]}


def _explain_check(model: type[models.Model], declared: Any) -> dict[str, list[str]]:
    fields = _condition_fields(getattr(declared, "condition", None))
    message = getattr(declared, "violation_error_message", None)
    default = models.BaseConstraint.default_violation_error_message
    if message and str(message) != str(default):
        sentence = str(message) % {"name": declared.name} if "%(name)" in str(message) else str(message)
    else:
        which = ", ".join(_label(model, name) for name in fields) or str(model._meta.verbose_name)
        sentence = f"The {which} of the {model._meta.verbose_name} is not allowed: check the value."
    return {(fields[0] if fields else NON_FIELD): [sentence]}


def explain_validation(model: type[models.Model], errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """``errors`` from ``full_clean`` with Django's "Constraint “name” is violated." replaced by the check's field
    and sentence, as ``explain`` words the same refusal from the database; every other message is kept."""
    default = str(models.BaseConstraint.default_violation_error_message)
    by_message = {default % {"name": c.name}: c for c in model._meta.constraints
                  if isinstance(c, models.CheckConstraint)}
    explained: dict[str, list[str]] = {}
    for field, messages in errors.items():
        for message in messages:
            declared = by_message.get(str(message))
            for name, sentences in (_explain_check(model, declared) if declared else {field: [message]}).items():
                explained.setdefault(name, []).extend(sentences)
    return explained
