"""The invariant checks ``check_inventory_invariants`` runs beyond its own: those the apps above inventory register
for the documents that move stock through it (a transfer's quantity and value in transit).

A probe is read-only and returns one line per violation. Apps register theirs at start-up (``AppConfig.ready``),
so inventory never imports them; they read the ledger through the ORM, as every app outside inventory does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple


class Probe(NamedTuple):
    title: str
    run: Callable[[], Iterable[str]]


_REGISTERED: dict[str, list[Probe]] = {}


def register_probes(owner: str, probes: list[Probe]) -> None:
    """Register (or replace, for a reload) the probes of ``owner`` (an app label)."""
    _REGISTERED[owner] = list(probes)


def registered_probes() -> list[Probe]:
    return [probe for owner in sorted(_REGISTERED) for probe in _REGISTERED[owner]]
