from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet

from erp.api.views import MasterDataViewSet
from erp.search import SearchFilterSet
from orders import services
from orders.api import serializers as s
from orders.models import Customer, ShipTo


class CustomerFilter(SearchFilterSet):
    region = django_filters.CharFilter(field_name="region__code")
    home_warehouse = django_filters.CharFilter(field_name="home_warehouse__code")
    search_fields = ("code", "name")

    class Meta:
        model = Customer
        fields = ["region", "home_warehouse", "active"]



class CustomerViewSet(MasterDataViewSet):
    """Customers in the caller's regions, addressed by code, with their ship-to addresses."""

    lookup_field = "code"
    lookup_value_regex = "[^/]+"  # codes may contain dots
    output_serializer_class = s.CustomerOutput
    create_serializer_class = s.CustomerCreateInput
    update_serializer_class = s.CustomerUpdateInput
    filterset_class = CustomerFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[Customer]:
        ship_tos = ShipTo.objects.select_related("region").order_by("code")
        return Customer.objects.select_related("region", "home_warehouse").prefetch_related(
            Prefetch("ship_tos", queryset=ship_tos)
        )

    def perform_create_service(self, data: dict[str, Any]) -> Customer:
        return services.customer_create(actor=self.request.user, **data)

    def perform_update_service(self, instance: Any, data: dict[str, Any]) -> Customer:
        return services.customer_update(customer=instance, actor=self.request.user, **data)
