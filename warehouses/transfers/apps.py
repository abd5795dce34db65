from django.apps import AppConfig


class TransfersConfig(AppConfig):
    """Transfers between warehouses: the network's process, above inventory, governance and orders."""

    name = "warehouses.transfers"
    label = "transfers"
    verbose_name = "Transfers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import services

        services.register()
