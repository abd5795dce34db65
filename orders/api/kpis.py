"""API: kpis."""

from rest_framework.routers import SimpleRouter


def register(router: SimpleRouter) -> None:
    """Register this module's viewsets on the orders API router."""
