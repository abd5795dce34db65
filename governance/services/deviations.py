"""Deviations: request, decide through the approval engine, withdraw, expire (to be built)."""

from __future__ import annotations


def register_approvable_types() -> None:
    """Register ``policy_deviation`` with the approval engine."""
