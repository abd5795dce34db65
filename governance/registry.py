"""Discovery of the apps' policy declarations and their sync into the Policy table (to be built)."""

from __future__ import annotations

from typing import Any


def sync_policies_after_migrate(**kwargs: Any) -> None:
    """post_migrate hook: make the Policy table match the declarations."""
