"""Receipts may allow an over-receipt beyond tolerance (a permission) and each receipt line names its ledger line.

No receipt existed before this migration, so the default of the new column is never used."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0008_in_transit_carries_its_cost'),
        ('procurement', '0003_frozen_purchase_orders'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='receipt',
            options={'ordering': ['-id'], 'permissions': [('allow_over_receipt', 'Can allow a receipt beyond procurement.over_receipt_tolerance')]},
        ),
        migrations.AddField(
            model_name='receiptline',
            name='move',
            field=models.OneToOneField(default=0, help_text='The ledger line that put this part on the shelf.', on_delete=django.db.models.deletion.PROTECT, related_name='+', to='inventory.stockmove'),
            preserve_default=False,
        ),
    ]
