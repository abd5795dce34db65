"""Base views: every queryset narrowed to the caller's scope; creates go through idempotency."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import status, viewsets
from rest_framework.response import Response

from erp.api.idempotency import idempotent
from erp.scoping import scope_queryset


class ScopedViewSet(viewsets.GenericViewSet[Any]):
    """A viewset whose every read is scoped. Subclasses give ``base_queryset()``.

    Objects outside the caller's scope are simply not in the queryset, so details answer 404
    and lists leave them out, with no special case anywhere.
    """

    def base_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        return scope_queryset(self.base_queryset(), self.request.user)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """The filter backends' narrowing, skipped for a request without query parameters when they are all
        django-filter's: a FilterSet passes an empty value through every filter unchanged (this project's have
        no required filter and no default), and building and validating its form for nothing was half the cost
        of finding the document of a detail action (``confirm/``, ``retrieve``)."""
        if not self.request.query_params and all(
            issubclass(backend, DjangoFilterBackend) for backend in self.filter_backends
        ):
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["user"] = self.request.user
        return context


class MasterDataViewSet(ScopedViewSet):
    """List, retrieve, create and partially update one kind of master data through its services.

    Subclasses set ``output_serializer_class``, ``create_serializer_class`` and
    ``update_serializer_class`` and implement ``perform_create_service(data)`` and
    ``perform_update_service(instance, data)``, each calling a service and returning the object.
    """

    output_serializer_class: Any = None
    create_serializer_class: Any = None
    update_serializer_class: Any = None

    def get_serializer_class(self) -> Any:
        if self.action == "create":
            return self.create_serializer_class
        if self.action == "partial_update":
            return self.update_serializer_class
        return self.output_serializer_class

    def output(self, instance: Model, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.base_queryset().get(pk=instance.pk)
        return Response(self.output_serializer_class(fresh, context=self.get_serializer_context()).data,
                        status=status_code)

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        serializer = self.output_serializer_class(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    def retrieve(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return Response(self.output_serializer_class(self.get_object(), context=self.get_serializer_context()).data)

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        def produce() -> Response:
            serializer = self.create_serializer_class(data=request.data, context=self.get_serializer_context())
            serializer.is_valid(raise_exception=True)
            instance = self.perform_create_service(serializer.validated_data)
            return self.output(instance, status.HTTP_201_CREATED)

        return idempotent(request, produce)

    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = self.update_serializer_class(
            data=request.data, partial=True, context={**self.get_serializer_context(), "instance": instance}
        )
        serializer.is_valid(raise_exception=True)
        instance = self.perform_update_service(instance, serializer.validated_data)
        return self.output(instance)

    def perform_create_service(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def perform_update_service(self, instance: Model, data: dict[str, Any]) -> Model:
        raise NotImplementedError
