"""Landed cost that arrives later: a freight bill posted after its receipt.

The bill (``amount`` in ``currency``, converted to the buying entity's at today's dated rate) is spread over the
receipt's lines by quantity, value or weight, to the cent. Each line's share raises the moving average of its item
for the part still on hand (``inventory.stock.costs_revalue``: the smaller of what the line received and what is
valued on hand now, over what it received); the rest belongs to goods already issued and is recorded as ``issued``
for finance (#13) to post against the cost of goods sold. Nothing already issued is revalued.

Locking order: the item costs (step 4 of ``inventory.stock``'s order), then this document.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from erp.actors import Actor
from erp.exceptions import ValidationFailed
from erp.lifecycle import next_document_id
from erp.transactions import command, recorded_actor
from governance.services.approvals import exchange_rate_on
from inventory import stock
from procurement import rules
from procurement.models import FreightMethod, LandedCost, LandedCostLine, Receipt, ReceiptLine
from procurement.purchasing import local_date
from procurement.receiving import Freight, check_freight

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.00000001")


def _weights(lines: list[ReceiptLine], method: str) -> list[Decimal]:
    if method == FreightMethod.QUANTITY:
        return [line.quantity for line in lines]
    if method == FreightMethod.VALUE:
        return [line.quantity * line.price_cost for line in lines]
    missing = sorted({line.item.sku for line in lines if line.item.weight_kg is None})
    if missing:
        raise ValidationFailed(detail={"freight": [f"Freight by weight needs every item's weight; "
                                                   f"{', '.join(missing)} has none."]})
    return [line.quantity * (line.item.weight_kg or Decimal(0)) for line in lines]


@command
def landed_cost_post(*, receipt: Receipt, freight: Freight, actor: Actor, bill_reference: str = "") -> LandedCost:
    """Post a freight bill that arrived after ``receipt``: revalue what of it is still on hand, record the rest as
    issued. Refuses (nothing written) an amount not above 0, a bad currency or method, a currency with no rate to the
    entity's today (409 ``missing_exchange_rate``), freight by weight over an item without a weight, and a bill
    reference longer than 64 characters."""
    check_freight(freight)
    if freight.amount <= 0:
        raise ValidationFailed(detail={"freight": ["The amount must be more than 0."]})
    if not isinstance(bill_reference, str) or len(bill_reference) > 64:
        raise ValidationFailed(detail={"bill_reference": ["At most 64 characters."]})
    receipt = Receipt.objects.select_related("warehouse").get(pk=receipt.pk)
    warehouse = receipt.warehouse
    lines = list(ReceiptLine.objects.filter(receipt=receipt).select_related("item").order_by("line_no"))
    rate = exchange_rate_on(freight.currency, receipt.currency, local_date(warehouse)).quantize(RATE_PLACES)
    base = (freight.amount * rate).quantize(CENT)
    shares = rules.spread(base, _weights(lines, freight.method))
    entity = warehouse.legal_entity_id
    revalued = {(r.item_id, r.legal_entity_id): r for r in stock.costs_revalue(
        [stock.Revaluation(line.item_id, entity, share, line.quantity) for line, share in zip(lines, shares,
                                                                                                strict=True)])}
    # Each item's revalued part back onto its lines, in proportion to their shares (to the cent, adding up).
    by_item: dict[int, list[int]] = {}
    for index, line in enumerate(lines):
        by_item.setdefault(line.item_id, []).append(index)
    line_revalued = [Decimal(0)] * len(lines)
    for item_id, indexes in by_item.items():
        parts = rules.spread(revalued[(item_id, entity)].revalued, [shares[i] for i in indexes])
        for index, part in zip(indexes, parts, strict=True):
            line_revalued[index] = part
    total_revalued = sum(line_revalued, Decimal(0))
    pk = next_document_id(LandedCost)
    landed = LandedCost.objects.create(
        pk=pk, number=f"LC-{pk:06d}", receipt=receipt, warehouse=warehouse, bill_reference=bill_reference,
        amount=freight.amount, currency=freight.currency, method=freight.method, rate=rate, base_amount=base,
        revalued=total_revalued, issued=base - total_revalued, posted_by=recorded_actor(actor),
        posted_at=timezone.now())
    LandedCostLine.objects.bulk_create([
        LandedCostLine(landed_cost=landed, receipt_line=line, warehouse=warehouse, item_id=line.item_id, share=share,
                       revalued=line_revalued[index], issued=share - line_revalued[index])
        for index, (line, share) in enumerate(zip(lines, shares, strict=True))
    ])
    return landed
