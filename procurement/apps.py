from django.apps import AppConfig


class ProcurementConfig(AppConfig):
    name = "procurement"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            csv_schemas,  # noqa: F401  registers this app's CSV layout with erp.csv_exchange
            purchasing,
        )

        purchasing.register()
