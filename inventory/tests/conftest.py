from __future__ import annotations

from typing import Any

import pytest

from inventory.tests.factories import ensure_standard_statuses


@pytest.fixture
def stock(demo: Any) -> None:
    """The demo network with the standard stock statuses in place."""
    ensure_standard_statuses()
