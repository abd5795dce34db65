"""Running calls at the same moment from several threads, for the concurrency tests of every app.

Each thread has its own database connection (Django gives each thread one) and closes it when done, so
a race runs against real PostgreSQL exactly as concurrent requests would. Use from transactional tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Start ``calls`` together, one thread (and so one connection) each; each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(n: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[n] = call()
        except BaseException as exc:
            outcomes[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    return outcomes
