"""Every change to what an allocation plan is made of renews the ``allocation_plan`` generation, so the plans
``orders.selectors.allocation_plan`` keeps in each process are rebuilt at once (see ``erp.generations``)."""

from django.db import migrations

from erp.generations import start_sql, unwatch_sql, watch_sql

GENERATION = "allocation_plan"
WATCHED = ("warehouses_warehouse", "warehouses_carrier", "warehouses_carrierlane", "governance_policy",
           "governance_policydeviation")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_shipto_default_data"),
        ("erp", "0003_generations"),
        ("warehouses", "0001_initial"),
        ("governance", "0003_notification_claim"),
    ]

    operations = [migrations.RunSQL([*(watch_sql(GENERATION, table) for table in WATCHED), start_sql(GENERATION)],
                                    [unwatch_sql(GENERATION, table) for table in WATCHED])]
