"""Policies of order to cash: promising, allocation, shipping and returns."""

from erp.policies import Boolean, Choice, Integer, LocalTime, PolicySpec, Sequence, Subset

POLICIES = [
    PolicySpec(
        "fulfillment.shipping_cutoff",
        "Orders confirmed before this local time at the shipping warehouse leave the same day.",
        LocalTime(), "15:00", "order_to_cash",
    ),
    PolicySpec(
        "fulfillment.allocation_sequence",
        "Where allocation looks for stock, in order: the customer's home warehouse, the rest of its region, "
        "other regions (the last only when cross-region allocation is allowed).",
        Sequence(options=("home_warehouse", "same_region", "other_regions")),
        ["home_warehouse", "same_region", "other_regions"], "order_to_cash",
    ),
    PolicySpec(
        "fulfillment.cross_region_allowed",
        "Whether an order may be allocated from a warehouse in another region.",
        Boolean(), False, "order_to_cash",
    ),
    PolicySpec(
        "fulfillment.lot_selection",
        "Which lots are allocated first: first expired first out, or first in first out.",
        Choice(options=("fefo", "fifo")), "fefo", "order_to_cash",
    ),
    PolicySpec(
        "fulfillment.partial_shipments_allowed",
        "Whether an order line may ship in part when the customer accepts partial shipments.",
        Boolean(), True, "order_to_cash",
    ),
    PolicySpec(
        "fulfillment.inbound_buffer_days",
        "Working days between a purchase order's expected date at the receiving warehouse and its stock being "
        "promised to customers: the time to receive and put it away.",
        Integer(minimum=0, maximum=30, unit="days"), 1, "order_to_cash",
    ),
    PolicySpec(
        "documents.required_for_shipment",
        "Documents that must be attached before a shipment may leave.",
        Subset(options=("packing_slip", "commercial_invoice", "bill_of_lading", "certificate_of_origin",
                        "dangerous_goods_declaration")),
        ["packing_slip"], "order_to_cash",
    ),
    PolicySpec(
        "returns.inspection_required",
        "Whether returned goods are inspected before they are restocked.",
        Boolean(), True, "order_to_cash",
    ),
]
