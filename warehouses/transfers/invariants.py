"""What ``check_inventory_invariants`` holds of transfers (registered at start-up, ``inventory.invariants``).

Per transfer and SKU, from the ledger (moves referencing the transfer) and from the document:

- quantity: what left the source = what was dispatched = what entered transit; what left transit = what was
  received from it + what was written off; what is still in transit in the ledger = what the lines say; an
  over-receipt (more than was in transit) is posted as found stock (reason ``FOUND``) and equals the lines'
  ``over_quantity``;
- value: what left the source = what entered transit, to the 4th place, between books of one currency (the
  transit leg carries the source leg's cost); what left transit = what the receipts and write-offs took, always.
  So the value in transit is the value dispatched less the value received and written off, exactly;
- the parts (lot and carried cost) add up to their lines, and the status fits: nothing moves before dispatch,
  nothing is in transit once received.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, F, IntegerField, Sum, Value, When

from inventory.invariants import Probe, register_probes
from inventory.models import StockMove
from warehouses.transfers.models import Transfer, TransferLine, TransferLineLot, TransferWriteOffLine, WriteOffStatus

FOUND_REASON = "FOUND"
WRITE_OFF_REASON = "LOST"
BEFORE_DISPATCH = ("draft", "pending_approval", "approved", "cancelled")


@dataclass
class _Sums:
    quantity: Decimal = Decimal(0)
    value: Decimal = Decimal(0)


@dataclass
class _Ledger:
    source: _Sums = field(default_factory=_Sums)  # signed: negative when stock left
    transit_in: _Sums = field(default_factory=_Sums)
    transit_out: _Sums = field(default_factory=_Sums)  # positive: what left transit
    written_off: _Sums = field(default_factory=_Sums)  # positive, part of transit_out
    received: _Sums = field(default_factory=_Sums)  # into the target from transit
    found: _Sums = field(default_factory=_Sums)  # into the target beyond what was in transit


def _ledger(transfers: dict[int, Transfer]) -> dict[tuple[int, int], _Ledger]:
    rows = (StockMove.objects.filter(reference_type="transfer")
            .annotate(sign=Case(When(quantity__gt=0, then=Value(1)), default=Value(-1), output_field=IntegerField()))
            .values("reference_id", "item_id", "warehouse_id", "status__code", "reason__code", "sign")
            .annotate(q=Sum("quantity"), v=Sum("value")).order_by())
    found: dict[tuple[int, int], _Ledger] = defaultdict(_Ledger)
    for row in rows:
        transfer_id = int(row["reference_id"]) if str(row["reference_id"]).isdigit() else 0
        transfer = transfers.get(transfer_id)
        ledger = found[(transfer_id, row["item_id"])]
        q, v = row["q"], row["v"]
        if transfer is None:
            ledger.source.quantity += q  # a move naming no transfer: reported below
            continue
        if row["warehouse_id"] == transfer.from_warehouse_id:
            target = ledger.source
        elif row["status__code"] == "in_transit":
            if q > 0:
                target = ledger.transit_in
            else:
                q, v = -q, -v
                target = ledger.transit_out
                if row["reason__code"] == WRITE_OFF_REASON:
                    ledger.written_off.quantity += q
                    ledger.written_off.value += v
        elif row["reason__code"] == FOUND_REASON:
            target = ledger.found
        else:
            target = ledger.received
        target.quantity += q
        target.value += v
    return found


def _lines() -> dict[tuple[int, int], dict[str, Decimal]]:
    totals: dict[tuple[int, int], dict[str, Decimal]] = {}
    for row in (TransferLine.objects.values("transfer_id", "item_id")
                .annotate(dispatched=Sum("dispatched_quantity"), received=Sum("received_quantity"),
                          over=Sum("over_quantity"), written_off=Sum("written_off_quantity"))
                .order_by()):
        totals[(row["transfer_id"], row["item_id"])] = row
    return totals


def _transfer_ledger() -> Iterator[str]:
    transfers = {t.pk: t for t in Transfer.objects.only("pk", "number", "status", "from_warehouse_id",
                                                        "to_warehouse_id")}
    one_rate = set(transfers) - set(TransferLineLot.objects.exclude(rate=1).values_list("transfer_id", flat=True))
    ledger = _ledger(transfers)
    lines = _lines()
    zero = Decimal(0)
    for key in sorted(set(ledger) | set(lines)):
        transfer_id, item_id = key
        transfer = transfers.get(transfer_id)
        if transfer is None:
            yield f"moves reference transfer {transfer_id}, which does not exist (item {item_id})"
            continue
        book = ledger.get(key, _Ledger())
        line = lines.get(key, {"dispatched": zero, "received": zero, "over": zero, "written_off": zero})
        name = f"{transfer.number} item {item_id}"
        from_transit = line["received"] - line["over"]
        in_transit = line["dispatched"] - from_transit - line["written_off"]
        checks = [
            ("left the source", -book.source.quantity, "dispatched", line["dispatched"]),
            ("entered transit", book.transit_in.quantity, "dispatched", line["dispatched"]),
            ("received from transit in the ledger", book.received.quantity, "on the lines", from_transit),
            ("written off in the ledger", book.written_off.quantity, "on the lines", line["written_off"]),
            ("found beyond transit in the ledger", book.found.quantity, "over-received on the lines", line["over"]),
            ("in transit in the ledger", book.transit_in.quantity - book.transit_out.quantity,
             "on the lines", in_transit),
            ("value out of transit", book.transit_out.value, "value received and written off",
             book.received.value + book.written_off.value),
        ]
        if transfer_id in one_rate:
            checks.append(("value out of the source", -book.source.value, "value into transit", book.transit_in.value))
        for said, left, against, right in checks:
            if left != right:
                yield f"{name}: {said} {left}, {against} {right}"
        if transfer.status in BEFORE_DISPATCH and (line["dispatched"] or book.transit_in.quantity):
            yield f"{name}: {transfer.status} but {line['dispatched']} dispatched"
        if transfer.status == "received" and in_transit:
            yield f"{name}: received but {in_transit} still in transit"


def _parts_add_up() -> Iterator[str]:
    parts = {row["line_id"]: row for row in TransferLineLot.objects.values("line_id").annotate(
        dispatched=Sum("dispatched_quantity"), received=Sum("received_quantity"),
        written_off=Sum("written_off_quantity")).order_by()}
    zero = Decimal(0)
    for line in TransferLine.objects.annotate(from_transit=F("received_quantity") - F("over_quantity")).values(
            "pk", "transfer__number", "line_no", "dispatched_quantity", "from_transit", "written_off_quantity"):
        part = parts.get(line["pk"], {"dispatched": zero, "received": zero, "written_off": zero})
        if (part["dispatched"], part["received"], part["written_off"]) != (
                line["dispatched_quantity"], line["from_transit"], line["written_off_quantity"]):
            yield (f"{line['transfer__number']} line {line['line_no']}: parts dispatched {part['dispatched']}, "
                   f"received {part['received']}, written off {part['written_off']}; the line "
                   f"{line['dispatched_quantity']}, {line['from_transit']}, {line['written_off_quantity']}")


def _write_offs_add_up() -> Iterator[str]:
    """What a line has written off is what its posted write-offs asked, no more and no less."""
    posted = {row["line_id"]: row["total"] for row in TransferWriteOffLine.objects.filter(
        write_off__status=WriteOffStatus.POSTED).values("line_id").annotate(total=Sum("quantity")).order_by()}
    for line in (TransferLine.objects.filter(written_off_quantity__gt=0) | TransferLine.objects.filter(
            pk__in=list(posted))).values("pk", "transfer__number", "line_no", "written_off_quantity"):
        asked = posted.get(line["pk"], Decimal(0))
        if asked != line["written_off_quantity"]:
            yield (f"{line['transfer__number']} line {line['line_no']}: written off {line['written_off_quantity']}, "
                   f"posted write-offs {asked}")


def register() -> None:
    register_probes("transfers", [
        Probe("transfer ledger disagrees with its document", _transfer_ledger),
        Probe("transfer parts do not add up to their line", _parts_add_up),
        Probe("transfer write-offs do not add up to their line", _write_offs_add_up),
    ])
