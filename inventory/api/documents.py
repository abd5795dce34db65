"""Inventory API: documents."""

from __future__ import annotations

from django.urls import URLPattern
from rest_framework.routers import SimpleRouter


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the inventory router."""


urlpatterns: list[URLPattern] = []
