"""Who a service acts for: the one ``Actor`` type every service signature uses.

A service is called by a person (the request's user, through a view, the API or the admin), or by the
system (a Celery task, a management command, a migration's seed), which passes ``None``. An anonymous
user never reaches a service (every view requires a login), but ``request.user`` is typed as either, so
``AnonymousUser`` is part of the type rather than a cast at every call site. What is recorded on a row is
``erp.transactions.recorded_actor(actor)``: the user when it is saved, else nothing.
"""

from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

Actor: TypeAlias = AbstractBaseUser | AnonymousUser | None


def acting_user(actor: Actor) -> User | None:
    """The signed-in user ``actor`` is, for a service that needs a person (to check a permission, to name the
    decider); None for the system and for an anonymous user."""
    return actor if isinstance(actor, User) and actor.is_authenticated else None
