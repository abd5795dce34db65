"""One transaction per command, retried on deadlock or serialization failure.

Every outermost service is decorated with ``@command``. It opens ``atomic(durable=True)`` so a
service can never be silently nested inside another's transaction, and retries the whole
command when PostgreSQL reports a deadlock (40P01), a serialization failure (40001) or a lock
timeout (55P03), so those never reach a user. After the budget is spent the caller gets
``ConcurrencyExhausted`` (503, "retry").

A layer that must share the service's transaction (the API's idempotency record) opens it with
``joined_command()``; services called inside it join instead of opening their own.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import OperationalError, connection, transaction

from erp.actors import Actor
from erp.exceptions import ConcurrencyExhausted
from erp.logging import request_id_var

if TYPE_CHECKING:
    from django.contrib.auth.models import User

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
MAX_ATTEMPTS = 8

_joined: ContextVar[bool] = ContextVar("concord_joined_command", default=False)


class StaleRead(OperationalError):
    """Raised by a command that read before taking its locks (to know what to lock) and found, once locked,
    that what it read has changed: the whole command runs again, as after a serialization failure."""

    pgcode = "40001"


def is_retryable(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    return getattr(cause, "pgcode", None) in RETRYABLE_SQLSTATES


def _backoff(attempt: int) -> None:
    time.sleep(min(0.5, 0.005 * (2**attempt)) * (0.5 + random.random()))


def recorded_actor(actor: Actor) -> User | None:
    """The user to record on a row for ``actor``: None for a system run or an unsaved (anonymous) user."""
    return actor if isinstance(actor, get_user_model()) and actor.pk else None


def stamp_transaction(actor: Actor) -> None:
    """Tell the audit trigger who acts and for which request, for the rest of this transaction."""
    actor_id = getattr(actor, "pk", None)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('concord.actor_id', %s, true), set_config('concord.request_id', %s, true)",
            ["" if actor_id is None else str(actor_id), request_id_var.get()],
        )


def run_command(fn: Callable[[], R], *, actor: Actor = None) -> R:
    """Run ``fn`` in a durable transaction, retrying the whole of it on transient conflicts.

    The transaction is stamped with ``actor`` (and the request id) for the audit trail.
    """
    if _joined.get():
        with transaction.atomic():
            if actor is not None:
                stamp_transaction(actor)
            return fn()
    for attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic(durable=True):
                stamp_transaction(actor)
                return fn()
        except OperationalError as exc:
            if not is_retryable(exc):
                raise
            if attempt == MAX_ATTEMPTS - 1:
                raise ConcurrencyExhausted() from exc
            _backoff(attempt)
    raise AssertionError("unreachable")


def command(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate an outermost service: one durable, retried transaction per call."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        actor = kwargs.get("actor")
        return run_command(lambda: fn(*args, **kwargs),
                           actor=actor if isinstance(actor, AbstractBaseUser | AnonymousUser) else None)

    return wrapper


@contextlib.contextmanager
def joined_command() -> Iterator[None]:
    """Inside this block (already in a transaction opened by ``run_command``) services join it."""
    token = _joined.set(True)
    try:
        yield
    finally:
        _joined.reset(token)
