from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema

from erp.api.views import MasterDataViewSet
from erp.exceptions import NotFound
from erp.search import SearchFilterSet
from procurement import selectors, services
from procurement.api import serializers as s
from procurement.models import Supplier, SupplierItem


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


# --- supplier items (issue 14, point 1) -----------------------------------------------------------------------


class SupplierItemFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(field_name="item__sku")
    preferred = django_filters.BooleanFilter(field_name="preferred")
    active = django_filters.BooleanFilter(field_name="active")

    class Meta:
        model = SupplierItem
        fields = ["sku", "preferred", "active"]


@extend_schema(parameters=[OpenApiParameter("supplier_code", OpenApiTypes.STR, OpenApiParameter.PATH,
                                             description="The supplier's code.")])
class SupplierItemViewSet(MasterDataViewSet):
    """What one supplier sells, addressed by SKU under the supplier's code (enterprise master data)."""

    lookup_field = "item__sku"
    lookup_url_kwarg = "sku"
    lookup_value_regex = "[^/]+"
    output_serializer_class = s.SupplierItemOutput
    create_serializer_class = s.SupplierItemCreateInput
    update_serializer_class = s.SupplierItemUpdateInput
    filterset_class = SupplierItemFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def supplier(self) -> Supplier:
        if not hasattr(self, "_supplier"):
            code = self.kwargs["supplier_code"]
            found = Supplier.objects.filter(code=code).first()
            if found is None:
                raise NotFound(detail={"supplier": [f"No supplier {code}."]})
            self._supplier = found
        return self._supplier

    def base_queryset(self) -> QuerySet[SupplierItem]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no supplier in the path
            return SupplierItem.objects.none()
        return selectors.supplier_items().filter(supplier=self.supplier())

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        context["supplier"] = self.supplier()
        return context

    @extend_schema(request=s.SupplierItemCreateInput, responses={201: s.SupplierItemOutput})
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Add a SKU the supplier sells. An unknown or inactive SKU or supplier, a unit not the item's, a price
        or quantity not above 0, a lead time outside 0..365, or a SKU the supplier already sells: 400."""
        return super().create(request, *args, **kwargs)

    @extend_schema(request=s.SupplierItemUpdateInput, responses=s.SupplierItemOutput)
    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Change the terms (the rest stay); ``preferred: true`` takes the mark from the SKU's other supplier."""
        return super().partial_update(request, *args, **kwargs)

    def perform_create_service(self, data: dict[str, Any]) -> SupplierItem:
        fields = dict(data)
        item = fields.pop("item")
        return services.supplier_item_save(supplier=self.supplier(), item=item, actor=self.request.user, **fields)

    def perform_update_service(self, instance: Any, data: dict[str, Any]) -> SupplierItem:
        return services.supplier_item_save(supplier=instance.supplier, item=instance.item, actor=self.request.user,
                                           **data)
