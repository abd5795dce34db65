"""Seed the standard status model: statuses, reason codes and the allowed transitions.

Idempotent (rows are matched by code), so tests that flush the database may run ``seed`` again.
Reversing removes the seeded transitions and reason codes, and the statuses no move refers to.
"""

from django.db import migrations

from inventory.rules import STANDARD_REASONS, STANDARD_STATUSES, STANDARD_TRANSITIONS


def seed(apps, schema_editor):
    StockStatus = apps.get_model("inventory", "StockStatus")
    ReasonCode = apps.get_model("inventory", "ReasonCode")
    StatusTransition = apps.get_model("inventory", "StatusTransition")
    statuses = {}
    for code, name, counts, allocatable, valued, gl_account, order in STANDARD_STATUSES:
        statuses[code], _ = StockStatus.objects.update_or_create(code=code, defaults={
            "name": name, "counts_toward_available": counts, "allocatable": allocatable, "valued": valued,
            "gl_account_code": gl_account, "sort_order": order,
        })
    reasons = {}
    for code, description, applies_to in STANDARD_REASONS:
        reasons[code], _ = ReasonCode.objects.update_or_create(
            code=code, defaults={"description": description, "applies_to": applies_to})
    for source, target, reason_codes in STANDARD_TRANSITIONS:
        transition, _ = StatusTransition.objects.get_or_create(from_status=statuses[source], to_status=statuses[target])
        transition.reason_codes.set([reasons[code] for code in reason_codes])


def unseed(apps, schema_editor):
    StockStatus = apps.get_model("inventory", "StockStatus")
    ReasonCode = apps.get_model("inventory", "ReasonCode")
    StatusTransition = apps.get_model("inventory", "StatusTransition")
    StockMove = apps.get_model("inventory", "StockMove")
    StatusTransition.objects.filter(from_status__code__in=[row[0] for row in STANDARD_STATUSES]).delete()
    used_reasons = StockMove.objects.filter(reason_id__isnull=False).values("reason_id")
    ReasonCode.objects.filter(code__in=[row[0] for row in STANDARD_REASONS]).exclude(pk__in=used_reasons).delete()
    used = StockMove.objects.values("status_id")
    StockStatus.objects.filter(code__in=[row[0] for row in STANDARD_STATUSES]).exclude(pk__in=used).delete()


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_stock_ledger")]

    operations = [migrations.RunPython(seed, unseed)]
