"""Policy values read as plain text on screens, whatever their type."""

from __future__ import annotations

import pytest

from governance.templatetags.policy_tags import policy_value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("15:00", "15:00"),
        (True, "yes"),
        (14, "14"),
        (["home_warehouse", "same_region"], "home_warehouse, same_region"),
        ([], "none"),
        ({"quantity_pct": "2.00", "value": "250.00"}, "quantity_pct: 2.00; value: 250.00"),
        ([{"up_to": "5000.00", "steps": ["buyer"]}, {"up_to": None, "steps": ["buyer", "approver"]}],
         "up to 5000.00: buyer; above: buyer → approver"),
        (None, "—"),
    ],
)
def test_policy_values_render_as_plain_text(value, shown):
    assert policy_value(value) == shown
