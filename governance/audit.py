"""Installing the audit trigger on every audited table (to be built)."""

from __future__ import annotations

from typing import Any


def install_triggers_after_migrate(**kwargs: Any) -> None:
    """post_migrate hook: attach concord_audit() to every audited table."""
