"""Governance screens: approvals."""

from __future__ import annotations

urlpatterns: list = []
