"""Governance screens: exceptions."""

from __future__ import annotations

urlpatterns: list = []
