"""Fixtures of the procure-to-pay tests: people with roles and scope, supplier items, orders ready to receive."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from erp import services as platform
from erp.roles import ROLE_BY_KEY
from governance.models import ApprovalRequest, ApprovalStatus
from governance.services.approvals import approval_request_decide
from inventory.models import Item, UnitOfMeasure
from inventory.tests.factories import ensure_standard_statuses, item
from inventory.tests.factories import warehouse as site
from procurement import purchasing
from procurement.models import PurchaseOrder, Supplier, SupplierItem
from warehouses.models import Region, Warehouse

D = Decimal


def person(username: str, role: str, *, regions: tuple[str, ...] = (), warehouses: tuple[str, ...] = (),
           enterprise: bool = False) -> Any:
    """A user with one role, scoped as asked (made once)."""
    account = get_user_model().objects.filter(username=username).first()
    if account is None:
        account = get_user_model().objects.create_user(username, password="x-unused-x")
        account.groups.add(Group.objects.get(name=ROLE_BY_KEY[role].group))
        platform.scope_grant(user=account, actor=None, regions=[Region.objects.get(code=r) for r in regions],
                             warehouses=[Warehouse.objects.get(code=w) for w in warehouses], enterprise=enterprise)
    return get_user_model().objects.get(pk=account.pk)


def twin(sku: str = "PAP-0003") -> Item:
    ensure_standard_statuses()
    return item(sku)


def offer(product: Item, supplier: str = "NORD", *, price: Any = "4.00", uom: str = "EA", currency: str | None = None,
          moq: Any = 1, pack: Any = 1, lead: int | None = None, preferred: bool = False) -> SupplierItem:
    """``supplier`` sells ``product`` at ``price`` per ``uom`` (in the supplier's currency unless given)."""
    seller = Supplier.objects.get(code=supplier)
    found, _ = SupplierItem.objects.update_or_create(
        supplier=seller, item=product,
        defaults=dict(supplier_sku=f"{supplier}-{product.sku}", uom=UnitOfMeasure.objects.get(code=uom),
                      unit_price=D(str(price)), currency=currency or seller.currency, min_order_quantity=D(str(moq)),
                      pack_multiple=D(str(pack)), lead_time_days=lead, preferred=preferred, active=True))
    return found


def draft(product: Item, quantity: Any = 100, *, supplier: str = "NORD", warehouse: str = "NE-BOS", actor: Any = None,
          **line: Any) -> PurchaseOrder:
    return purchasing.purchase_order_create(
        supplier=Supplier.objects.get(code=supplier), warehouse=site(warehouse), actor=actor,
        lines=[purchasing.OrderLineSpec(item=product, quantity=D(str(quantity)), **line)])


def decide_all(order: PurchaseOrder, deciders: list[Any], approve: bool = True) -> PurchaseOrder:
    """Each decider decides the current step in turn, until the request is decided."""
    request = ApprovalRequest.objects.get(pk=PurchaseOrder.objects.get(pk=order.pk).approval_request_id)
    for decider in deciders:
        if request.status != ApprovalStatus.PENDING:
            break
        request = approval_request_decide(request=request, actor=decider, approve=approve)
    return PurchaseOrder.objects.get(pk=order.pk)


def approved(product: Item, quantity: Any = 100, **kwargs: Any) -> PurchaseOrder:
    """An order raised by ``buyer`` and approved by the NE buyer and approver (and finance when the matrix asks)."""
    buyer = person("po.buyer", "buyer", enterprise=True)
    order = draft(product, quantity, actor=buyer, **kwargs)
    purchasing.purchase_order_submit(order=order, actor=buyer)
    return decide_all(order, approvers())


def approvers() -> list[Any]:
    return [person("po.buyer2", "buyer", enterprise=True), person("po.approver", "approver", enterprise=True),
            person("po.finance", "finance", enterprise=True)]
