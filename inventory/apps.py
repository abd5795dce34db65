from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import csv_schemas  # noqa: F401  registers this app's CSV layout with erp.csv_exchange
        from .services import register_approvable_types

        register_approvable_types()
