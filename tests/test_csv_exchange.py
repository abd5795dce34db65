"""CSV import and export of items, customers, suppliers and locations, against the demo network."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Max
from django.test import Client

from erp import services as platform
from erp.csv_exchange import MAX_ROWS, import_csv
from erp.csv_exchange import export_csv as export
from erp.exceptions import PermissionDenied
from inventory.models import Item
from orders import services as order_services
from orders.models import Customer, ShipTo
from procurement.models import Supplier
from warehouses.models import Location, Region, Warehouse

pytestmark = pytest.mark.django_db

MODELS = {"items": Item, "customers": Customer, "suppliers": Supplier, "locations": Location}
ITEM_HEADER = "sku,name,category,base_uom,lot_tracked,shelf_life_days,weight_kg,uoms"
CUSTOMER_HEADER = "code,name,region,home_warehouse,allow_partial_shipment,email,active,ship_tos"
SUPPLIER_HEADER = "code,name,currency,lead_time_days,payment_terms_days,email,active"
LOCATION_HEADER = "warehouse,code,name,kind,parent,active"


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def new_item(sku: str, weight: str = "0.5") -> str:
    return f"{sku},Test item {sku},Testing,EA,false,,{weight},CS=6;PL=240"


def last_write(model: type) -> object:
    return model.objects.aggregate(last=Max("updated_at"))["last"]


def make_user(username: str, group: str, *, regions: tuple[str, ...] = (), warehouses: tuple[str, ...] = ()):
    account = get_user_model().objects.create_user(username, password="x")
    account.groups.add(Group.objects.get(name=group))
    platform.scope_grant(user=account, actor=None, regions=list(Region.objects.filter(code__in=regions)),
                         warehouses=list(Warehouse.objects.filter(code__in=warehouses)))
    return get_user_model().objects.get(pk=account.pk)


# ----------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", ["items", "customers", "suppliers", "locations"])
def test_reimporting_an_export_reports_every_row_unchanged_and_writes_nothing(user, kind):
    admin = user("admin")
    model = MODELS[kind]
    before = last_write(model)
    text = export(kind, admin)

    report = import_csv(kind, text, admin)

    assert report.ok and report.applied
    assert len(report.rows) == model.objects.count() > 0
    assert {row.action for row in report.rows} == {"unchanged"}
    assert last_write(model) == before


def test_an_edited_item_is_updated_and_a_new_item_created_with_its_conversions(user):
    admin = user("admin")
    rows = rows_of(export("items", admin))
    bev = next(row for row in rows if row["sku"] == "BEV-0001")
    assert bev["uoms"] == "CS=24;PL=1440"
    bev.update(name="Renamed cola", uoms="CS=12;PL=720", weight_kg="0.4", lot_tracked="no")
    rows.append({"sku": "NEW-0001", "name": "Brand new", "category": "Testing", "base_uom": "EA",
                 "lot_tracked": "yes", "shelf_life_days": "30", "weight_kg": "", "uoms": "CS=10"})

    report = import_csv("items", to_csv(rows), admin)

    assert report.ok and report.applied
    actions = {row.key: row.action for row in report.rows}
    assert actions["BEV-0001"] == "update" and actions["NEW-0001"] == "create" and actions["BEV-0002"] == "unchanged"
    item = Item.objects.get(sku="BEV-0001")
    assert (item.name, item.weight_kg, item.lot_tracked) == ("Renamed cola", Decimal("0.4"), False)
    assert {r.uom.code: r.factor for r in item.uoms.all()} == {"EA": 1, "CS": 12, "PL": 720}
    created = Item.objects.get(sku="NEW-0001")
    assert created.lot_tracked and created.shelf_life_days == 30 and created.weight_kg is None
    assert {r.uom.code: r.factor for r in created.uoms.all()} == {"EA": 1, "CS": 10}


def test_ship_to_values_containing_separators_survive_the_round_trip(user):
    admin = user("admin")
    customer = Customer.objects.get(code="C-NE-001")
    ne = Region.objects.get(code="NE")
    order_services.customer_update(customer=customer, actor=None, ship_tos=[
        {"code": "MAIN", "name": "Dock 1; rear | left", "address_line1": "1 Main St\\2", "city": "Boston",
         "postal_code": "02110", "country": "US", "region": ne},
    ])
    text = export("customers", admin)
    assert "Dock 1\\; rear \\| left" in text

    report = import_csv("customers", text, admin)
    assert {row.action for row in report.rows} == {"unchanged"}

    rows = rows_of(text)
    row = next(r for r in rows if r["code"] == "C-NE-001")
    row["ship_tos"] += ";DC3|Third DC|3 Depot Rd|Boston||US|NE"
    report = import_csv("customers", to_csv(rows), admin)
    assert report.ok and [r.key for r in report.rows if r.action == "update"] == ["C-NE-001"]
    ship_tos = {s.code: s.name for s in ShipTo.objects.filter(customer=customer)}
    assert ship_tos == {"MAIN": "Dock 1; rear | left", "DC3": "Third DC"}


def test_a_new_location_and_its_child_are_created_from_the_same_file(user):
    admin = user("admin")
    text = "\n".join([LOCATION_HEADER, "NE-BOS,Z-01,Zone one,storage,STOR,true", "NE-BOS,Z-01-A,,storage,Z-01,yes"])

    report = import_csv("locations", text, admin)

    assert report.ok and [row.action for row in report.rows] == ["create", "create"]
    child = Location.objects.get(warehouse__code="NE-BOS", code="Z-01-A")
    assert child.parent.code == "Z-01" and child.path == "STOR/Z-01/Z-01-A"


def test_moving_an_existing_location_to_another_parent_is_refused(user):
    text = "\n".join([LOCATION_HEADER, "NE-BOS,A-01-01,A 01 01,storage,PICK,true"])

    report = import_csv("locations", text, user("admin"))

    assert not report.ok
    assert "cannot be moved" in report.rows[0].errors["parent"][0]


def test_booleans_accept_yes_no_and_one_zero_and_refuse_anything_else(user):
    admin = user("admin")
    text = "\n".join([SUPPLIER_HEADER, "ACME,Acme Wholesale,USD,5,30,,no", "GULF,Gulf Coast Foods,USD,7,45,,1"])
    report = import_csv("suppliers", text, admin)
    assert report.ok and [row.action for row in report.rows] == ["update", "unchanged"]
    assert Supplier.objects.get(code="ACME").active is False

    report = import_csv("suppliers", "\n".join([SUPPLIER_HEADER, "ACME,Acme Wholesale,USD,5,30,,maybe"]), admin)
    assert "active" in report.rows[0].errors


# ----------------------------------------------------------------------------------------- all or nothing


def test_a_dry_run_shows_the_actions_and_writes_nothing(user):
    admin = user("admin")
    before = Item.objects.count()
    text = "\n".join([ITEM_HEADER, new_item("TRIAL-0001"), new_item("TRIAL-0002"),
                      "BEV-0001,Renamed,Beverages,EA,true,365,0.35,CS=24;PL=1440"])

    report = import_csv("items", text, admin, dry_run=True)

    assert report.ok and not report.applied
    assert [row.action for row in report.rows] == ["create", "create", "update"], report.to_text()
    assert Item.objects.count() == before
    assert Item.objects.get(sku="BEV-0001").name != "Renamed"


def test_one_bad_row_among_fifty_good_ones_writes_nothing_and_names_its_line_and_field(user):
    lines = [ITEM_HEADER] + [new_item(f"TST-{n:04d}") for n in range(1, 51)]
    lines.insert(28, new_item("TST-0999", weight="heavy"))  # the 28th data row: line 29 of the file

    report = import_csv("items", "\n".join(lines), user("admin"))

    assert not report.ok and not report.applied
    assert [(row.line, row.key, list(row.errors)) for row in report.error_rows] == [(29, "TST-0999", ["weight_kg"])]
    assert sum(row.action == "create" for row in report.rows) == 50
    assert not Item.objects.filter(sku__startswith="TST-").exists()


def test_a_service_refusal_rolls_back_every_other_row_and_is_reported_on_its_row(user):
    text = "\n".join([
        CUSTOMER_HEADER,
        "C-NE-100,Good customer,NE,NE-BOS,true,,true,MAIN|Main|1 Main St|Boston||US|NE",
        "C-NE-101,Bad home,NE,SE-ATL,true,,true,",
    ])

    for dry_run in (True, False):
        report = import_csv("customers", text, user("admin"), dry_run=dry_run)
        assert [row.action for row in report.rows] == ["create", "create"]
        assert report.rows[0].ok
        assert report.rows[1].line == 3
        assert "SE-ATL is not in region NE" in report.rows[1].errors["home_warehouse"][0]
        assert not Customer.objects.filter(code__in=["C-NE-100", "C-NE-101"]).exists()


def test_a_refusal_on_a_derived_field_is_reported_on_its_row_in_a_dry_run_too(user):
    # A location's path (its codes from the root) holds at most 500 characters; the file never names
    # it, so the service's refusal at the 16th level of this tree is reported against the whole row.
    codes = [f"{level:02d}" + "X" * 29 for level in range(1, 17)]
    lines = [LOCATION_HEADER] + [f"NE-BOS,{code},,storage,{parent},true"
                                 for code, parent in zip(codes, ["", *codes[:-1]], strict=True)]

    for dry_run in (True, False):
        report = import_csv("locations", "\n".join(lines), user("admin"), dry_run=dry_run)
        assert [row.line for row in report.error_rows] == [17]
        message = "path: Ensure this value has at most 500 characters (it has 511)."
        assert report.error_rows[0].errors == {"row": [message]}
        assert [row.action for row in report.rows] == ["create"] * 16
        assert not Location.objects.filter(code__in=codes).exists()


def test_reimporting_costs_the_same_number_of_queries_for_ten_rows_and_for_all_of_them(user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin = user("admin")
    counts = {}
    for kind in ("items", "customers", "locations"):
        text = export(kind, admin)
        for size in (10, None):
            subset = "\n".join(text.splitlines()[: size + 1 if size else None])
            with CaptureQueriesContext(connection) as queries:
                report = import_csv(kind, subset, admin)
            assert report.ok
            counts[kind, size] = len(queries)
        assert counts[kind, 10] == counts[kind, None], kind


def test_a_natural_key_repeated_in_the_file_is_an_error_on_the_later_row(user):
    text = "\n".join([SUPPLIER_HEADER, "ACME,Acme renamed,USD,5,30,,true", "GULF,Gulf Coast Foods,USD,7,45,,true",
                      "ACME,Acme again,USD,5,30,,true"])

    report = import_csv("suppliers", text, user("admin"))

    assert [(row.line, list(row.errors)) for row in report.error_rows] == [(4, ["code"])]
    assert "first on line 2" in report.error_rows[0].errors["code"][0]
    assert Supplier.objects.get(code="ACME").name == "Acme Wholesale"


def test_a_duplicated_location_key_names_the_code_column(user):
    text = "\n".join([LOCATION_HEADER, "NE-BOS,Q-1,,quarantine,,true", "NE-BOS,Q-1,,quarantine,,true"])
    report = import_csv("locations", text, user("admin"))
    assert list(report.rows[1].errors) == ["code"]
    assert not Location.objects.filter(code="Q-1").exists()


# ----------------------------------------------------------------------------------------- scope


def test_a_reference_outside_the_users_scope_reads_exactly_like_an_unknown_one(user):
    ne_service = make_user("ne.desk", "Customer service", regions=("NE",))
    row = "C-NE-200,Scoped,{region},{warehouse},true,,true,"
    text = "\n".join([CUSTOMER_HEADER, row.format(region="SE", warehouse="SE-ATL"),
                      row.format(region="XX", warehouse="XX-NOPE").replace("C-NE-200", "C-NE-201")])

    report = import_csv("customers", text, ne_service)

    out_of_scope, unknown = report.rows
    assert out_of_scope.errors == {"region": ["Unknown region 'SE'."],
                                   "home_warehouse": ["Unknown warehouse 'SE-ATL'."]}
    assert unknown.errors == {"region": ["Unknown region 'XX'."], "home_warehouse": ["Unknown warehouse 'XX-NOPE'."]}


def test_a_supervisor_cannot_import_locations_into_a_warehouse_outside_their_scope(user):
    supervisor = make_user("bos.supervisor", "Warehouse supervisor", warehouses=("NE-BOS",))
    text = "\n".join([LOCATION_HEADER, "NE-BOS,Z-9,,storage,,true", "SE-ATL,Z-9,,storage,,true"])

    report = import_csv("locations", text, supervisor)

    assert report.rows[0].ok and report.rows[1].errors == {"warehouse": ["Unknown warehouse 'SE-ATL'."]}
    assert not Location.objects.filter(code="Z-9").exists()


def test_the_ne_operator_exports_only_northeast_locations_and_customers(user):
    operator = user("ne.operator")

    locations = rows_of(export("locations", operator))
    customers = rows_of(export("customers", operator))

    assert {row["warehouse"] for row in locations} == {"NE-BOS", "NE-NYC"}
    assert len(locations) == Location.objects.filter(warehouse__code__in=["NE-BOS", "NE-NYC"]).count()
    assert [row["code"] for row in customers] == ["C-NE-001", "C-NE-002", "C-NE-003", "C-NE-004"]
    assert {row["region"] for row in customers} == {"NE"}


def test_a_role_without_add_and_change_permission_may_not_import(user):
    with pytest.raises(PermissionDenied):
        import_csv("locations", f"{LOCATION_HEADER}\nNE-BOS,Z-1,,storage,,true", user("ne.operator"))


# ----------------------------------------------------------------------------------------- file-level errors


def test_missing_and_unknown_headers_are_one_file_error_listing_them(user):
    text = "sku,name,colour,base_uom,lot_tracked,shelf_life_days,uoms\n" + "X-1,Thing,red,EA,false,,"

    report = import_csv("items", text, user("admin"))

    assert not report.ok and report.rows == []
    assert "Missing column(s): category, weight_kg." in report.file_errors
    assert "Unknown column(s): colour." in report.file_errors


@pytest.mark.parametrize(("content", "expected"), [
    ("", "The file is empty."),
    ("\r\n  \n", "The file is empty."),
    ("sku;name;category;base_uom;lot_tracked;shelf_life_days;weight_kg;uoms\nX;Y;;EA;no;;;",
     "The file is separated by semicolons, not commas; save it as comma-separated CSV."),
    (ITEM_HEADER + "\n", "The file has a header but no data rows."),
    ((ITEM_HEADER + "\nCAF\xc9-1,Caf\xe9,,EA,no,,,").encode("latin-1"),
     "The file is not UTF-8 text (byte 74 cannot be read); save it as 'CSV UTF-8'."),
])
def test_unreadable_files_are_rejected_with_a_clear_message(user, content, expected):
    report = import_csv("items", content, user("admin"))
    assert report.file_errors == [expected]
    assert not report.applied


def test_a_file_with_more_than_the_maximum_number_of_rows_is_rejected_before_any_row_is_read(user):
    text = ITEM_HEADER + "\n" + "\n".join(new_item(f"MAX-{n}") for n in range(MAX_ROWS + 1))

    report = import_csv("items", text, user("admin"))

    assert report.file_errors == ["The file has more than 20,000 rows; split it into smaller files."]
    assert report.rows == []


def test_a_row_with_the_wrong_number_of_values_is_a_row_error(user):
    text = "\n".join([SUPPLIER_HEADER, "ACME,Acme Wholesale,USD,5,30,,true,extra"])
    report = import_csv("suppliers", text, user("admin"))
    assert report.rows[0].errors == {"row": ["Expected 7 values, found 8."]}


def test_a_utf8_file_with_a_byte_order_mark_imports(user):
    text = "\ufeff" + "\n".join([SUPPLIER_HEADER, "ACME,Acme Wholesale,USD,5,30,,true"])
    report = import_csv("suppliers", text.encode("utf-8"), user("admin"))
    assert report.ok and report.rows[0].action == "unchanged"


# ----------------------------------------------------------------------------------------- commands


def test_export_command_writes_the_csv_to_standard_output(demo):
    out = io.StringIO()
    call_command("export_csv", "suppliers", stdout=out)
    rows = rows_of(out.getvalue())
    assert [row["code"] for row in rows] == list(Supplier.objects.order_by("code").values_list("code", flat=True))


def test_export_command_with_a_user_applies_their_scope(demo):
    out = io.StringIO()
    call_command("export_csv", "customers", "--user", "ne.operator", stdout=out)
    assert {row["region"] for row in rows_of(out.getvalue())} == {"NE"}


def test_import_command_applies_a_clean_file_and_prints_the_report(tmp_path, demo):
    path = tmp_path / "items.csv"
    path.write_text("\n".join([ITEM_HEADER, new_item("CMD-0001")]), encoding="utf-8")
    out = io.StringIO()

    call_command("import_csv", "items", str(path), "--user", "admin", stdout=out)

    assert "line 2\tCMD-0001\tcreate" in out.getvalue()
    assert Item.objects.filter(sku="CMD-0001").exists()


def test_import_command_dry_run_writes_nothing(tmp_path, demo):
    path = tmp_path / "items.csv"
    path.write_text("\n".join([ITEM_HEADER, new_item("CMD-0002")]), encoding="utf-8")
    out = io.StringIO()

    call_command("import_csv", "items", str(path), "--user", "admin", "--dry-run", stdout=out)

    assert "Dry run: nothing was written (1 create)." in out.getvalue()
    assert not Item.objects.filter(sku="CMD-0002").exists()


def test_import_command_exits_non_zero_and_writes_nothing_when_a_row_has_an_error(tmp_path, demo):
    path = tmp_path / "items.csv"
    path.write_text("\n".join([ITEM_HEADER, new_item("CMD-0003"), new_item("CMD-0004", weight="-1")]),
                    encoding="utf-8")
    out = io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("import_csv", "items", str(path), "--user", "admin", stdout=out)

    assert failure.value.returncode == 1
    assert "line 3\tCMD-0004\tcreate\t" in out.getvalue()
    assert not Item.objects.filter(sku__in=["CMD-0003", "CMD-0004"]).exists()


def test_import_command_exits_non_zero_on_a_file_error_and_for_a_role_without_permission(tmp_path, demo):
    path = tmp_path / "items.csv"
    path.write_text("sku,name\nX,Y\n", encoding="utf-8")
    with pytest.raises(CommandError) as bad_file:
        call_command("import_csv", "items", str(path), "--user", "admin", stdout=io.StringIO())
    assert bad_file.value.returncode == 1
    with pytest.raises(CommandError, match="may not import"):
        call_command("import_csv", "items", str(path), "--user", "ne.operator", stdout=io.StringIO())


# ----------------------------------------------------------------------------------------- screens


def client_for(user_obj) -> Client:
    client = Client()
    client.force_login(user_obj)
    return client


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_uploading_shows_a_preview_and_confirming_applies_exactly_that_file(user):
    client = client_for(user("admin"))
    assert client.get("/data/items/import/").status_code == 200

    preview = client.post("/data/items/import/", {"file": upload("new.csv", f"{ITEM_HEADER}\n{new_item('WEB-0001')}")})

    assert preview.status_code == 200
    assert b"Confirm import" in preview.content and b"WEB-0001" in preview.content
    assert [row.action for row in preview.context["report"].rows] == ["create"]
    assert not Item.objects.filter(sku="WEB-0001").exists()

    confirmed = client.post("/data/items/import/", {"digest": preview.context["digest"]})

    assert confirmed.status_code == 200 and confirmed.context["report"].applied
    assert Item.objects.filter(sku="WEB-0001").exists()
    again = client.post("/data/items/import/", {"digest": preview.context["digest"]})
    assert again.status_code == 400 and b"no longer available" in again.content


def test_a_preview_with_errors_offers_no_confirmation_and_cannot_be_confirmed(user):
    client = client_for(user("admin"))
    text = f"{ITEM_HEADER}\n{new_item('WEB-0002')}\n{new_item('WEB-0003', weight='x')}"

    preview = client.post("/data/items/import/", {"file": upload("bad.csv", text)})

    assert preview.status_code == 200
    assert b"Confirm import" not in preview.content and b"weight_kg" in preview.content
    assert "digest" not in preview.context
    forged = client.post("/data/items/import/", {"digest": "0" * 64})
    assert forged.status_code == 400
    assert not Item.objects.filter(sku__in=["WEB-0002", "WEB-0003"]).exists()


def test_the_export_download_is_scoped_to_the_user(user):
    response = client_for(user("ne.operator")).get("/data/locations/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="locations-')
    assert {row["warehouse"] for row in rows_of(response.content.decode())} == {"NE-BOS", "NE-NYC"}


def test_a_role_without_permission_gets_403_and_an_anonymous_visitor_the_login_page(user):
    operator = client_for(user("ne.operator"))
    assert operator.get("/data/locations/import/").status_code == 403
    assert operator.post("/data/locations/import/", {"file": upload("l.csv", LOCATION_HEADER)}).status_code == 403
    no_role = client_for(get_user_model().objects.create_user("nobody", password="x"))
    assert no_role.get("/data/items/export.csv").status_code == 403
    assert Client().get("/data/items/export.csv").status_code == 302
    assert client_for(user("admin")).get("/data/widgets/import/").status_code == 404
