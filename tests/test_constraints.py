"""A database refusal reads as the field and the reason, never as a constraint's name (issue 12, item 8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from erp.constraints import NON_FIELD, explain
from inventory.models import Item, ItemUom, UnitOfMeasure
from orders.models import Customer

pytestmark = pytest.mark.django_db


def _refusal(write: Any) -> dict[str, list[str]]:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        write()
    return explain(caught.value)


def test_a_duplicate_names_the_field_that_must_be_unique(demo: Any) -> None:
    existing = Customer.objects.get(code="C-NE-001")

    explained = _refusal(lambda: Customer.objects.create(
        code=existing.code, name="Twin", region=existing.region, home_warehouse=existing.home_warehouse))

    assert explained == {"code": ["A customer with this code exists already."]}


def test_a_failed_check_names_the_field_it_reads(demo: Any) -> None:
    item = Item.objects.get(sku="BEV-0001")

    explained = _refusal(lambda: Item.objects.filter(pk=item.pk).update(weight_kg=Decimal("-1")))

    assert list(explained) == ["weight_kg"]
    assert "weight" in explained["weight_kg"][0] and "item_weight_non_negative" not in explained["weight_kg"][0]


def test_a_missing_value_and_a_missing_reference_name_their_fields(demo: Any) -> None:
    each = UnitOfMeasure.objects.get(code="EA")

    assert _refusal(lambda: Item.objects.create(sku="NULL-NAME-1", name=None, base_uom=each)) == {
        "name": ["Give the name."]}
    explained = _refusal(lambda: ItemUom.objects.create(item_id=10**9, uom=each, factor=Decimal(1)))
    assert explained == {"item": ["The item does not exist (any more)."]}


def test_an_error_without_a_known_table_still_reads_as_a_sentence() -> None:
    assert explain(IntegrityError("boom")) == {NON_FIELD: ["The database refused the change; nothing was written."]}
