from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from erp.api.views import MasterDataViewSet
from erp.search import SearchFilterSet
from procurement import services
from procurement.api import serializers as s
from procurement.models import Supplier


class SupplierFilter(SearchFilterSet):
    search_fields = ("code", "name")

    class Meta:
        model = Supplier
        fields = ["currency", "active"]



class SupplierViewSet(MasterDataViewSet):
    """Suppliers, addressed by code (enterprise master data)."""

    lookup_field = "code"
    lookup_value_regex = "[^/]+"  # codes may contain dots
    output_serializer_class = s.SupplierOutput
    create_serializer_class = s.SupplierCreateInput
    update_serializer_class = s.SupplierUpdateInput
    filterset_class = SupplierFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[Supplier]:
        return Supplier.objects.all()

    def perform_create_service(self, data: dict[str, Any]) -> Supplier:
        return services.supplier_create(actor=self.request.user, **data)

    def perform_update_service(self, instance: Any, data: dict[str, Any]) -> Supplier:
        return services.supplier_update(supplier=instance, actor=self.request.user, **data)
