"""``concord_refuse_change()``: the trigger function that makes a table append-only.

Ledgers, posted journals and the audit trail attach it BEFORE UPDATE OR DELETE; corrections are
new rows. (TRUNCATE is not refused, so test databases can still be flushed.)
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION concord_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'P0001', HINT = 'Corrections are new rows.';
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("erp", "0001_initial")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS concord_refuse_change();"),
    ]
