"""Failed-login lockout per username, kept in Redis: guessing a password gets slow, not cheap.

After ``LOGIN_FAILURE_LIMIT`` failures within ``LOGIN_FAILURE_WINDOW`` seconds, further attempts
for that username are refused (429) until the window passes, whatever the password. Counting per
username rather than per address means a botnet gains nothing by spreading its guesses, and one
office behind a NAT does not lock out its colleagues.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from erp.exceptions import DomainError


class TooManyLoginFailures(DomainError):
    code = "throttled"
    status = 429
    default_message = "Too many failed logins for this user; wait a few minutes and try again."


def _key(username: str) -> str:
    return "login-failures:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()


def check_allowed(username: str) -> None:
    failures = cache.get(_key(username), 0)
    if failures >= settings.LOGIN_FAILURE_LIMIT:
        raise TooManyLoginFailures(detail={"retry_after_seconds": settings.LOGIN_FAILURE_WINDOW})


def record_failure(username: str) -> None:
    key = _key(username)
    if cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)


def clear(username: str) -> None:
    cache.delete(_key(username))
