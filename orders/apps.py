from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import csv_schemas  # noqa: F401  registers this app's CSV layout with erp.csv_exchange
