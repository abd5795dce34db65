"""``erp_generation`` and ``concord_bump_generation(name)``: see ``erp.generations``."""

from django.db import migrations

SQL = """
CREATE SEQUENCE erp_generation_value_seq;
CREATE TABLE erp_generation (name text PRIMARY KEY, value bigint NOT NULL);
CREATE OR REPLACE FUNCTION concord_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO erp_generation (name, value) VALUES (TG_ARGV[0], nextval('erp_generation_value_seq'))
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
    RETURN NULL;
END
$$;
"""

REVERSE = """
DROP FUNCTION IF EXISTS concord_bump_generation();
DROP TABLE IF EXISTS erp_generation;
DROP SEQUENCE IF EXISTS erp_generation_value_seq;
"""


class Migration(migrations.Migration):
    dependencies = [("erp", "0002_append_only_function")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
