"""Stock in transit is kept out of the moving average: it is valued at the cost it left its source at."""

from django.db import migrations


def forwards(apps, schema_editor):
    apps.get_model("inventory", "StockStatus").objects.filter(code="in_transit").update(valued=False)


def backwards(apps, schema_editor):
    apps.get_model("inventory", "StockStatus").objects.filter(code="in_transit").update(valued=True)


class Migration(migrations.Migration):

    dependencies = [
        ("inventory", "0007_item_sku_upper_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
