"""Purchase orders are frozen once submitted, whatever route writes to them.

The services refuse to edit anything but a draft; these triggers make the database refuse it as well, so no
route (the admin, a shell, raw SQL, a future service) can change an order in approval or approved:

- an order's terms (supplier, warehouse, entity, currency, totals, rate, category, revision, requester) change
  only while it is a draft, or in the one move that makes a new revision: back to ``draft`` with ``revision``
  one higher (an approved or sent order) or the same (a rejected or withdrawn request);
- it becomes ``approved`` only from ``pending_approval`` and only while its approval request is approved;
- it is deleted only as a draft that was never submitted;
- a line is added, removed or changed in its terms (item, quantities, unit, price, total, promised date) only
  while its order is a draft; the expected date (a supplier's new date), what was received and the late flag
  move with the receipts and reschedules;
- an approved revision's record never changes.

Refusals are ``check_violation`` errors naming their rule (``CONSTRAINT``) and table, which the API answers as 409
with the trigger's sentence.
"""

from django.db import migrations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION procurement_purchase_order_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    request_status text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' OR OLD.submitted_at IS NOT NULL OR OLD.revision > 1 THEN
            RAISE EXCEPTION 'Purchase order % is %; it cannot be deleted, only cancelled or closed.',
                OLD.number, OLD.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'purchaseorder_frozen', TABLE = TG_TABLE_NAME;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND NEW.status <> 'draft' AND (
        NEW.number, NEW.supplier_id, NEW.warehouse_id, NEW.legal_entity_id, NEW.currency, NEW.total,
        NEW.base_currency, NEW.rate, NEW.base_total, NEW.category, NEW.revision, NEW.requested_by_id,
        NEW.copied_from_id, NEW.order_date, NEW.submitted_at
    ) IS DISTINCT FROM (
        OLD.number, OLD.supplier_id, OLD.warehouse_id, OLD.legal_entity_id, OLD.currency, OLD.total,
        OLD.base_currency, OLD.rate, OLD.base_total, OLD.category, OLD.revision, OLD.requested_by_id,
        OLD.copied_from_id, OLD.order_date, OLD.submitted_at
    ) THEN
        RAISE EXCEPTION 'Purchase order % is % and its terms are frozen: revise it to change them.',
            OLD.number, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'purchaseorder_frozen', TABLE = TG_TABLE_NAME;
    END IF;
    IF NEW.status = 'draft' AND OLD.status IN ('approved', 'sent') AND NEW.revision <> OLD.revision + 1 THEN
        RAISE EXCEPTION 'Purchase order % was approved: it returns to draft only as a new revision.', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'purchaseorder_frozen', TABLE = TG_TABLE_NAME;
    END IF;
    IF NEW.status = 'draft' AND OLD.status NOT IN ('draft', 'approved', 'sent') AND NEW.revision <> OLD.revision THEN
        RAISE EXCEPTION 'Purchase order % was never approved in this revision.', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'purchaseorder_frozen', TABLE = TG_TABLE_NAME;
    END IF;
    IF NEW.status = 'approved' AND OLD.status <> 'approved' THEN
        SELECT r.status INTO request_status FROM governance_approvalrequest r
         WHERE r.id = NEW.approval_request_id AND r.document_type = 'purchase_order' AND r.document_id = NEW.id;
        IF OLD.status <> 'pending_approval' OR request_status IS DISTINCT FROM 'approved' THEN
            RAISE EXCEPTION 'Purchase order % is approved only by its approval request.', OLD.number
                USING ERRCODE = 'check_violation', CONSTRAINT = 'purchaseorder_approved_by_request',
                      TABLE = TG_TABLE_NAME;
        END IF;
    END IF;
    IF NEW.status = 'pending_approval' AND NEW.approval_request_id IS NULL THEN
        RAISE EXCEPTION 'Purchase order % waits for approval only with an approval request.', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'purchaseorder_approved_by_request',
                  TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION procurement_purchase_order_line_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    order_status text;
    order_number text;
    order_id bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.order_id ELSE NEW.order_id END;
BEGIN
    SELECT o.status, o.number INTO order_status, order_number FROM procurement_purchaseorder o WHERE o.id = order_id;
    IF order_status IS NULL OR order_status = 'draft' THEN  -- a draft, or the order itself is being deleted
        IF TG_OP = 'UPDATE' AND NEW.order_id <> OLD.order_id THEN
            RAISE EXCEPTION 'A purchase order line stays on its order.'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'purchaseorderline_frozen', TABLE = TG_TABLE_NAME;
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP <> 'UPDATE' OR (
        NEW.order_id, NEW.warehouse_id, NEW.line_no, NEW.item_id, NEW.quantity, NEW.uom_quantity, NEW.uom_code,
        NEW.unit_price, NEW.line_total, NEW.promised_date
    ) IS DISTINCT FROM (
        OLD.order_id, OLD.warehouse_id, OLD.line_no, OLD.item_id, OLD.quantity, OLD.uom_quantity, OLD.uom_code,
        OLD.unit_price, OLD.line_total, OLD.promised_date
    ) THEN
        RAISE EXCEPTION 'Purchase order % is % and its lines are frozen: revise it to change them.',
            order_number, order_status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'purchaseorderline_frozen', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER procurement_purchase_order_frozen BEFORE UPDATE OR DELETE ON procurement_purchaseorder
    FOR EACH ROW EXECUTE FUNCTION procurement_purchase_order_frozen();
CREATE TRIGGER procurement_purchase_order_line_frozen BEFORE INSERT OR UPDATE OR DELETE
    ON procurement_purchaseorderline FOR EACH ROW EXECUTE FUNCTION procurement_purchase_order_line_frozen();
CREATE TRIGGER procurement_purchase_order_revision_append_only BEFORE UPDATE OR DELETE
    ON procurement_purchaseorderrevision FOR EACH ROW EXECUTE FUNCTION concord_refuse_change();
"""

DROP = r"""
DROP TRIGGER IF EXISTS procurement_purchase_order_revision_append_only ON procurement_purchaseorderrevision;
DROP TRIGGER IF EXISTS procurement_purchase_order_line_frozen ON procurement_purchaseorderline;
DROP TRIGGER IF EXISTS procurement_purchase_order_frozen ON procurement_purchaseorder;
DROP FUNCTION IF EXISTS procurement_purchase_order_line_frozen();
DROP FUNCTION IF EXISTS procurement_purchase_order_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("procurement", "0002_procure_to_pay"),
        ("governance", "0001_initial"),
        ("erp", "0002_append_only_function"),
    ]

    operations = [migrations.RunSQL(FUNCTIONS, DROP)]
