"""The shared confirm step's form (erp.confirm): a reason only where the service takes one, required where the
action says so, at most 500 characters, each refusal a sentence beside the field."""

from __future__ import annotations

from erp.confirm import ConfirmForm


def test_an_action_without_a_reason_asks_for_none():
    form = ConfirmForm({"reason": "ignored"}, takes_reason=False, reason_required=False)
    assert form.is_valid() and "reason" not in form.fields and "reason" not in form.cleaned_data


def test_a_required_reason_left_blank_is_refused_with_a_sentence():
    form = ConfirmForm({"reason": "   "}, takes_reason=True, reason_required=True)
    assert not form.is_valid()
    assert form.errors["reason"] == ["Give a reason."]


def test_an_optional_reason_is_stripped_and_limited_to_500_characters():
    kept = ConfirmForm({"reason": "  Customer called  "}, takes_reason=True, reason_required=False)
    assert kept.is_valid() and kept.cleaned_data["reason"] == "Customer called"
    blank = ConfirmForm({}, takes_reason=True, reason_required=False)
    assert blank.is_valid() and blank.cleaned_data["reason"] == ""
    long = ConfirmForm({"reason": "x" * 501}, takes_reason=True, reason_required=False)
    assert not long.is_valid() and long.errors["reason"] == ["At most 500 characters (this is 501)."]
