"""Give every existing customer a default ship-to address: its ``MAIN`` address, or its first by code when
it has no ``MAIN``. A customer that already has a default keeps it, so running it twice changes nothing.

Reversing clears every default flag (the schema migration before this one then drops the column).
"""

from django.db import migrations


def mark_defaults(apps, schema_editor):
    ShipTo = apps.get_model("orders", "ShipTo")
    chosen: dict[int, tuple[bool, str, int]] = {}
    has_default = set(ShipTo.objects.filter(default=True).values_list("customer_id", flat=True))
    for pk, customer_id, code in ShipTo.objects.exclude(customer_id__in=has_default).values_list(
            "pk", "customer_id", "code"):
        rank = (code != "MAIN", code, pk)  # MAIN first, then by code
        if customer_id not in chosen or rank < chosen[customer_id]:
            chosen[customer_id] = rank
    ShipTo.objects.filter(pk__in=[rank[2] for rank in chosen.values()]).update(default=True)


def clear_defaults(apps, schema_editor):
    ShipTo = apps.get_model("orders", "ShipTo")
    ShipTo.objects.filter(default=True).update(default=False)


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_shipto_default")]

    operations = [migrations.RunPython(mark_defaults, clear_defaults)]
