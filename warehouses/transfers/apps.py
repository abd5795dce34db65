from django.apps import AppConfig


class TransfersConfig(AppConfig):
    """Transfers between warehouses: the network's process, above inventory, governance and orders."""

    name = "warehouses.transfers"
    label = "transfers"
    verbose_name = "Transfers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from inventory.supply import register_inbound

        from . import services, supply

        services.register()
        register_inbound("transfers", supply.in_transit_supply)
