"""The audit trigger function, the append-only audit table, and frozen decisions.

``concord_audit(warehouse_column, region_column)`` is attached AFTER INSERT OR UPDATE OR DELETE to
every audited table (``governance.audit.install_triggers``, run after each migrate). It records the
change with the transaction's ``concord.actor_id`` and ``concord.request_id`` settings, so bulk
``queryset.update()`` and raw SQL are captured as well as model saves. Secrets (password hashes,
token digests) are never copied into the trail.
"""

from django.db import migrations

AUDIT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION concord_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb;
    new_row jsonb;
    src jsonb;
    diff jsonb := '{}'::jsonb;
    k text;
    wh_col text := coalesce(TG_ARGV[0], '');
    rg_col text := coalesce(TG_ARGV[1], '');
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_row := to_jsonb(OLD) - 'password' - 'digest';
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_row := to_jsonb(NEW) - 'password' - 'digest';
    END IF;
    IF TG_OP = 'INSERT' THEN
        src := new_row;
        diff := new_row;
    ELSIF TG_OP = 'UPDATE' THEN
        src := new_row;
        FOR k IN SELECT jsonb_object_keys(new_row) LOOP
            IF k <> 'updated_at' AND (old_row -> k) IS DISTINCT FROM (new_row -> k) THEN
                diff := diff || jsonb_build_object(k, jsonb_build_array(old_row -> k, new_row -> k));
            END IF;
        END LOOP;
        IF diff = '{}'::jsonb THEN
            RETURN NULL;
        END IF;
    ELSE
        src := old_row;
        diff := old_row;
    END IF;
    INSERT INTO governance_auditevent
        (occurred_at, table_name, row_id, operation, actor_id, request_id, transaction_id, changes,
         warehouse_id, region_id)
    VALUES (
        clock_timestamp(), TG_TABLE_NAME, coalesce(src ->> 'id', ''), TG_OP,
        nullif(current_setting('concord.actor_id', true), '')::bigint,
        coalesce(current_setting('concord.request_id', true), ''),
        txid_current(), diff,
        CASE WHEN wh_col <> '' THEN (src ->> wh_col)::bigint END,
        CASE WHEN rg_col <> '' THEN (src ->> rg_col)::bigint END
    );
    RETURN NULL;
END
$$;
"""

FROZEN_DEVIATION = r"""
CREATE OR REPLACE FUNCTION governance_deviation_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'requested' THEN
            RAISE EXCEPTION 'deviation % is decided and cannot be deleted', OLD.number USING ERRCODE = 'P0001';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'requested' AND (
        NEW.policy_id, NEW.scope_type, NEW.region_id, NEW.warehouse_id, NEW.value, NEW.rationale,
        NEW.effective_from, NEW.effective_to, NEW.requested_by_id, NEW.decided_by_id, NEW.decided_at
    ) IS DISTINCT FROM (
        OLD.policy_id, OLD.scope_type, OLD.region_id, OLD.warehouse_id, OLD.value, OLD.rationale,
        OLD.effective_from, OLD.effective_to, OLD.requested_by_id, OLD.decided_by_id, OLD.decided_at
    ) THEN
        RAISE EXCEPTION 'deviation % is decided (%) and frozen', OLD.number, OLD.status USING ERRCODE = 'P0001';
    END IF;
    IF OLD.status IN ('rejected', 'expired', 'withdrawn') AND NEW.status <> OLD.status THEN
        RAISE EXCEPTION 'deviation % is % and final', OLD.number, OLD.status USING ERRCODE = 'P0001';
    END IF;
    IF OLD.status = 'approved' AND NEW.status NOT IN ('approved', 'expired', 'withdrawn') THEN
        RAISE EXCEPTION 'an approved deviation may only expire or be withdrawn' USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER policydeviation_frozen BEFORE UPDATE OR DELETE ON governance_policydeviation
    FOR EACH ROW EXECUTE FUNCTION governance_deviation_frozen();
"""

FROZEN_STEP = r"""
CREATE OR REPLACE FUNCTION governance_approval_decided_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'approval records are kept: delete refused' USING ERRCODE = 'P0001';
    END IF;
    IF OLD.status IN ('approved', 'rejected', 'cancelled', 'skipped') AND to_jsonb(NEW) - 'updated_at'
            IS DISTINCT FROM to_jsonb(OLD) - 'updated_at' THEN
        RAISE EXCEPTION '% % is decided (%) and frozen', TG_TABLE_NAME, OLD.id, OLD.status USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER approvalrequest_frozen BEFORE UPDATE OR DELETE ON governance_approvalrequest
    FOR EACH ROW EXECUTE FUNCTION governance_approval_decided_frozen();
CREATE TRIGGER approvalstep_frozen BEFORE UPDATE OR DELETE ON governance_approvalstep
    FOR EACH ROW EXECUTE FUNCTION governance_approval_decided_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial"), ("erp", "0002_append_only_function")]

    operations = [
        migrations.RunSQL(AUDIT_FUNCTION, "DROP FUNCTION IF EXISTS concord_audit();"),
        migrations.RunSQL(
            "CREATE TRIGGER auditevent_append_only BEFORE UPDATE OR DELETE ON governance_auditevent "
            "FOR EACH ROW EXECUTE FUNCTION concord_refuse_change();",
            "DROP TRIGGER IF EXISTS auditevent_append_only ON governance_auditevent;",
        ),
        migrations.RunSQL(
            FROZEN_DEVIATION,
            "DROP TRIGGER IF EXISTS policydeviation_frozen ON governance_policydeviation; "
            "DROP FUNCTION IF EXISTS governance_deviation_frozen();",
        ),
        migrations.RunSQL(
            FROZEN_STEP,
            "DROP TRIGGER IF EXISTS approvalrequest_frozen ON governance_approvalrequest; "
            "DROP TRIGGER IF EXISTS approvalstep_frozen ON governance_approvalstep; "
            "DROP FUNCTION IF EXISTS governance_approval_decided_frozen();",
        ),
    ]
