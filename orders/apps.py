from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from inventory.signals import allocatable_stock_raised

        from . import csv_schemas  # noqa: F401  registers this app's CSV layout with erp.csv_exchange
        from .tasks import on_allocatable_stock_raised

        allocatable_stock_raised.connect(on_allocatable_stock_raised, dispatch_uid="orders.backorders")
