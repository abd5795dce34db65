"""Governance API: approvals (see api-v1.md, governance resources)."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter


def register(router: SimpleRouter) -> None:
    """Add this area's routes to the governance router."""
