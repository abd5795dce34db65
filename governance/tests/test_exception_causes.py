"""Every exception leads to its cause, and the cause's page shows its open exceptions (issue 12, item 5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.causes import exception_causes, open_exceptions_about
from governance.models import OperationalException
from governance.services.exceptions import exception_raise_command
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db


def _raise(**detail: Any) -> OperationalException:
    return exception_raise_command(type="shortage", business_key=f"test:{sorted(detail.items())}",
                                   title="Short of something", warehouse=Warehouse.objects.get(code="NE-BOS"),
                                   reference=str(detail.get("order", "")), detail=detail, actor=None)


def test_a_shortage_leads_to_the_sku_at_its_warehouse_and_to_its_orders(demo: Any) -> None:
    exc = _raise(sku="BEV-0001", order="SO-000900", orders=["SO-000901"], pick_list="PL-000007")

    causes = [(cause.label, cause.url) for cause in exception_causes(exc)]

    assert causes[0] == ("BEV-0001 at NE-BOS", reverse("inventory:stock-locations", args=["BEV-0001", "NE-BOS"]))
    assert ("Order SO-000900", f"{reverse('orders:order-list')}?q=SO-000900") in causes
    assert ("Order SO-000901", f"{reverse('orders:order-list')}?q=SO-000901") in causes
    assert ("Pick list PL-000007", f"{reverse('orders:pick-list-list')}?q=PL-000007") in causes


def test_a_detail_without_a_known_cause_gives_no_link_and_no_error(demo: Any) -> None:
    exc = _raise(pallets=2, orders=3)
    assert exception_causes(exc) == []


def test_the_queue_links_each_exception_to_its_cause_and_the_cause_page_lists_it(client: Any, user: Any) -> None:
    exc = _raise(sku="BEV-0001", order="SO-000900")
    client.force_login(user("planner"))

    queue = client.get(reverse("governance:exception-dashboard")).content.decode()
    row = queue[queue.index(f'id="exception-{exc.pk}"'):]
    row = row[:row.index("</tr>")]
    stock_page = reverse("inventory:stock-locations", args=["BEV-0001", "NE-BOS"])
    assert f'href="{stock_page}" data-cause' in row

    page = client.get(stock_page).content.decode()
    assert f'data-exception="{exc.number}"' in page

    elsewhere = client.get(reverse("inventory:stock-locations", args=["BEV-0001", "NE-NYC"])).content.decode()
    assert f'data-exception="{exc.number}"' not in elsewhere


def test_an_order_shows_the_shortage_its_confirm_raised(client: Any, user: Any) -> None:
    from inventory.models import Item, ItemWarehouseSummary
    from orders.models import Customer
    from orders.services.sales import OrderLineSpec, sales_order_confirm, sales_order_create

    service = user("ne.service")
    item = Item.objects.get(sku="BEV-0001")
    free = sum((row.allocatable_on_hand - row.allocated for row in ItemWarehouseSummary.objects.filter(item=item)),
               Decimal(0))
    order = sales_order_create(customer=Customer.objects.get(code="C-NE-001"), ship_to=None, actor=service,
                               lines=[OrderLineSpec(item=item, quantity=free + 10, uom=item.base_uom.code)])
    sales_order_confirm(order=order, actor=service)
    client.force_login(user("planner"))

    page = client.get(reverse("orders:order-detail", args=[order.pk])).content.decode()

    raised = open_exceptions_about(user("planner"), order=order.number).first()
    assert raised is not None and raised.type == "shortage"
    assert f'data-exception="{raised.number}"' in page


def test_an_expiring_deviation_shows_its_exception_and_the_exception_leads_back(client: Any, user: Any) -> None:
    from governance.selectors import local_date
    from governance.services import deviations

    boston = Warehouse.objects.get(code="NE-BOS")
    today = local_date(timezone.now(), boston)
    deviation = deviations.deviation_request(
        policy_key="fulfillment.shipping_cutoff", scope_type="warehouse", scope_code="NE-BOS", value="17:45",
        rationale="Carriers collect later at this site.", effective_from=today,
        effective_to=today + dt.timedelta(days=1), actor=user("planner"))
    deviations.deviation_approve(deviation=deviation, actor=user("owner"))
    deviations.deviations_review_notify(actor=None)
    exc = OperationalException.objects.get(business_key=f"deviation:{deviation.pk}")
    client.force_login(user("owner"))

    assert [cause.url for cause in exception_causes(exc)] == [
        reverse("governance:policy-deviation-detail", args=[deviation.pk])]
    page = client.get(reverse("governance:policy-deviation-detail", args=[deviation.pk])).content.decode()
    assert f'data-exception="{exc.number}"' in page


def test_a_user_outside_the_exceptions_scope_sees_none_of_them_on_a_page(client: Any, user: Any) -> None:
    exc = _raise(sku="BEV-0001")
    assert open_exceptions_about(user("eu.operator"), sku="BEV-0001").filter(pk=exc.pk).count() == 0
    assert open_exceptions_about(user("ne.operator"), sku="BEV-0001").filter(pk=exc.pk).count() == 1


def test_a_pick_list_and_a_return_show_the_open_exceptions_about_them(client: Any, user: Any) -> None:
    from erp.demo import fulfil_demo_order
    from orders.models import PickList, ReturnAuthorization

    fulfil_demo_order()  # picked, shipped and one unit authorized back
    pick_list = PickList.objects.order_by("pk").first()
    rma = ReturnAuthorization.objects.order_by("pk").first()
    assert pick_list is not None and rma is not None, "the demo network fulfils an order and takes a unit back"
    about_list, about_return = _raise(pick_list=pick_list.number), _raise(rma=rma.number)
    client.force_login(user("planner"))

    list_page = client.get(reverse("orders:pick-list-detail", args=[pick_list.pk])).content.decode()
    assert f'data-exception="{about_list.number}"' in list_page
    assert f'data-exception="{about_return.number}"' not in list_page
    return_page = client.get(reverse("orders:return-detail", args=[rma.pk])).content.decode()
    assert f'data-exception="{about_return.number}"' in return_page
    assert f'data-exception="{about_list.number}"' not in return_page
