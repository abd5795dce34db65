"""Browser screens of customers and their ship-to addresses."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from erp.scoping import scope_queryset
from erp.screens import Column, ScreenDetailView, ScreenListView
from orders.models import Customer, ShipTo


class CustomerListView(ScreenListView[Customer]):
    csv_kind = "customers"
    model = Customer
    permission_required = "orders.view_customer"
    template_name = "orders/customer_list.html"
    rows_template_name = "orders/_customer_rows.html"
    search_fields = ("code", "name", "email", "region__code", "home_warehouse__code")
    search_placeholder = "Code, name, region or warehouse"
    columns = (
        Column("Code", "code", sort="code"),
        Column("Name", "name", sort="name"),
        Column("Region", "region.code", sort="region__code", css="col-opt"),
        Column("Home warehouse", "home_warehouse.code", sort="home_warehouse__code"),
        Column("Ship-tos", "ship_to_count", sort="ship_to_count", css="num col-opt"),
        Column("Email", "email", sort="email", css="col-opt"),
        Column("Status", lambda customer: "active" if customer.active else "inactive", sort="active", css="col-opt"),
    )

    def base_queryset(self) -> QuerySet[Customer]:
        # An aggregate drops Meta.ordering, so the paging order is stated here.
        return (
            Customer.objects.select_related("region", "home_warehouse")
            .annotate(ship_to_count=Count("ship_tos"))
            .order_by("code")
        )


class CustomerDetailView(ScreenDetailView[Customer]):
    model = Customer
    permission_required = "orders.view_customer"
    template_name = "orders/customer_detail.html"

    def base_queryset(self) -> QuerySet[Customer]:
        return Customer.objects.select_related("region", "home_warehouse")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        can_see_ship_tos = self.request.user.has_perm("orders.view_shipto")
        ship_tos = scope_queryset(
            ShipTo.objects.filter(customer=self.object).select_related("region").order_by("code"), self.request.user
        )
        context.update(can_see_ship_tos=can_see_ship_tos, ship_tos=list(ship_tos) if can_see_ship_tos else [])
        return context
