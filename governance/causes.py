"""What an exception is about, both ways: the pages of its cause (the SKU at its warehouse, the order, the pick
list, the return, the transfer, the deviation, the customer, the supplier, the location), and the open exceptions
about a page's object.

An exception's ``detail`` names its cause by business keys (``sku``, ``order``, ``orders``, ``pick_list``,
``rma``, ``transfer``, ``deviation``, ``customer``, ``supplier``, ``location``), as each raising service writes
it. Governance sits below the apps that own those pages, so it names them by URL name only, never by model; a
document known by its number opens through its list's search, which finds exactly that number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.urls import NoReverseMatch, reverse

from governance import rules
from governance.models import OperationalException
from governance.services.exceptions import exceptions_for


@dataclass(frozen=True)
class Cause:
    label: str
    url: str


def _searched(url_name: str, number: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'q': number})}"


def _numbers(value: Any) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        return [str(number) for number in value if isinstance(number, str) and number]
    return []


# detail key -> how to reach its page: (label, url) pairs, given the value and the exception.
_CAUSES: dict[str, Callable[[Any, OperationalException], list[tuple[str, str]]]] = {
    "order": lambda value, exc: [(f"Order {n}", _searched("orders:order-list", n)) for n in _numbers(value)],
    "orders": lambda value, exc: [(f"Order {n}", _searched("orders:order-list", n)) for n in _numbers(value)],
    "pick_list": lambda value, exc: [(f"Pick list {n}", _searched("orders:pick-list-list", n))
                                     for n in _numbers(value)],
    "rma": lambda value, exc: [(f"Return {n}", _searched("orders:return-list", n)) for n in _numbers(value)],
    "transfer": lambda value, exc: [(f"Transfer {n}", _searched("transfers:transfer-list", n))
                                    for n in _numbers(value)],
    "customer": lambda value, exc: [(f"Customer {n}", reverse("orders:customer-detail", args=[n]))
                                    for n in _numbers(value)],
    "supplier": lambda value, exc: [(f"Supplier {n}", reverse("procurement:supplier-detail", args=[n]))
                                    for n in _numbers(value)],
    "location": lambda value, exc: [(f"Location {n}", reverse("warehouses:location-detail",
                                                              args=[exc.warehouse.code, n]))
                                    for n in _numbers(value) if exc.warehouse is not None],
}


def exception_causes(exc: OperationalException) -> list[Cause]:
    """The pages of what ``exc`` is about, the SKU at its warehouse first."""
    detail = exc.detail if isinstance(exc.detail, dict) else {}
    causes: list[Cause] = []
    sku = detail.get("sku")
    if isinstance(sku, str) and sku and exc.warehouse is not None:
        causes.append(Cause(f"{sku} at {exc.warehouse.code}",
                            reverse("inventory:stock-locations", args=[sku, exc.warehouse.code])))
    if exc.business_key.startswith("deviation:") and exc.business_key[len("deviation:"):].isdigit():
        causes.append(Cause(f"Deviation {detail.get('deviation') or exc.reference}",
                            reverse("governance:policy-deviation-detail",
                                    args=[int(exc.business_key[len("deviation:"):])])))
    for key, reach in _CAUSES.items():
        if key in detail:
            try:
                causes += [Cause(label, url) for label, url in reach(detail[key], exc)]
            except NoReverseMatch:  # a page not installed, or a value no page takes: no link, never an error
                continue
    return causes


def open_exceptions_about(user: Any, *, sku: str = "", warehouse: str = "", order: str = "", customer: str = "",
                          deviation: int | None = None, pick_list: str = "",
                          rma: str = "", transfer: str = "") -> QuerySet[OperationalException]:
    """The open (or acknowledged) exceptions ``user`` may see about one object: a SKU (at a warehouse, when
    given), an order (named in ``detail.order``, in ``detail.orders`` or as the reference), a pick list, a
    return or a transfer (in ``detail`` or as the reference), a customer or a deviation. Oldest deadline first."""
    about = Q()
    if pick_list:
        about |= Q(detail__pick_list=pick_list) | Q(reference=pick_list)
    if rma:
        about |= Q(detail__rma=rma) | Q(reference=rma)
    if transfer:
        about |= Q(detail__transfer=transfer) | Q(reference=transfer)
    if sku:
        about |= Q(detail__sku=sku, **({"warehouse__code": warehouse} if warehouse else {}))
    if order:
        about |= Q(detail__order=order) | Q(detail__orders__contains=[order]) | Q(reference=order)
    if customer:
        about |= Q(detail__customer=customer) | Q(reference=customer)
    if deviation is not None:
        about |= Q(business_key=f"deviation:{deviation}")
    if not about:
        return OperationalException.objects.none()
    return (exceptions_for(user).filter(about, status__in=rules.EXCEPTION_OPEN_STATUSES)
            .order_by("due_at", "pk"))
