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
        from inventory.supply import register_inbound

        from . import supply

        # Open purchase order lines: inbound supply for promising, ``on_order`` for availability.
        register_inbound("procurement", supply.purchase_order_supply, kind="on_order",
                         on_order_rows=supply.on_order_rows)
