"""The OpenAPI 3 document at /api/schema/ is valid, warning-free and served with local-only docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import reset_generator_stats
from drf_spectacular.management.commands.spectacular import SchemaGenerationError, SchemaValidationError
from openapi_spec_validator import validate
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_the_schema_is_a_valid_openapi_3_document(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)
    assert "/api/v1/warehouses/" in schema["paths"]
    assert "/api/v1/locations/" in schema["paths"]


def test_the_schema_is_also_served_as_yaml_to_anyone(demo):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


def test_generating_the_schema_raises_no_warnings_or_errors(tmp_path: Path, capsys: Any):
    target = tmp_path / "schema.yaml"
    reset_generator_stats()  # counts from schemas generated earlier in this process are not this run's
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    except (SchemaGenerationError, SchemaValidationError) as exc:
        pytest.fail(f"{exc}; the views at fault:\n{capsys.readouterr().err}")
    captured = capsys.readouterr()
    assert "Warning" not in captured.err and "Error" not in captured.err, captured.err
    validate(yaml.safe_load(target.read_text()))


def test_the_token_endpoint_is_documented_as_public_and_every_other_as_token_or_session(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schemes["tokenAuth"]["description"],
    }
    assert "/api/v1/auth/token/" in schemes["tokenAuth"]["description"]

    issue = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert not issue.get("security")
    assert set(issue["responses"]) >= {"201", "400"}
    request_schema = issue["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][request_schema]["required"]) == {"username", "password"}

    for path, method, operation in operations(schema):
        if (path, method) == ("/api/v1/auth/token/", "post"):
            continue
        assert {"tokenAuth": []} in operation.get("security", []), (method, path)


def test_every_list_documents_its_pagination(schema):
    lists = [
        (path, op) for path, method, op in operations(schema)
        if method == "get" and "Paginated" in str(op["responses"]["200"])
    ]
    assert {"/api/v1/locations/", "/api/v1/warehouses/"} <= {path for path, _ in lists}
    for path, operation in lists:
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        assert {"page", "page_size"} <= names, path
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert {"count", "next", "previous", "results"} <= set(schema["components"]["schemas"][ref]["properties"])


def test_errors_are_documented_in_the_one_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "detail"}
    for path, method, operation in operations(schema):
        documented = {status for status in operation["responses"] if status.startswith(("4", "5"))}
        assert "401" in documented or (path, method) == ("/api/v1/auth/token/", "post"), (method, path)
        if method in {"post", "put", "patch"}:
            assert "400" in documented, (method, path)
        if "{" in path:
            assert "404" in documented, (method, path)
        for status in documented:
            content = operation["responses"][status]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_writes_document_the_object_they_return_not_their_input(schema):
    def response_ref(path: str, method: str, status: str) -> str:
        content = schema["paths"][path][method]["responses"][status]["content"]["application/json"]
        return content["schema"]["$ref"].rsplit("/", 1)[1]

    assert response_ref("/api/v1/locations/", "post", "201") == "LocationOutput"
    assert response_ref("/api/v1/warehouses/", "post", "201") == "WarehouseOutput"
    assert response_ref("/api/v1/warehouses/{code}/", "patch", "200") == "WarehouseOutput"


def test_descriptions_speak_to_integrators_not_to_concords_developers(schema):
    for path, method, operation in operations(schema):
        description = operation.get("description", "")
        assert "Subclasses" not in description, (method, path)
        assert "class hierarchy" not in description, (method, path)
    assert "Authorization: Token" in schema["paths"]["/api/v1/auth/token/"]["post"]["description"]


def test_creating_posts_document_the_idempotency_key_header(schema):
    create = schema["paths"]["/api/v1/locations/"]["post"]
    headers = {p["name"]: p for p in create.get("parameters", []) if p["in"] == "header"}
    assert "Idempotency-Key" in headers
    assert headers["Idempotency-Key"]["schema"]["maxLength"] == 255
    assert "409" in create["responses"]


def test_the_docs_page_loads_swagger_ui_from_this_server_only(demo):
    client = APIClient()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    references = re.findall(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert any(ref.endswith("swagger-ui-bundle.js") for ref in references)
    for ref in references:
        assert ref.startswith("/") and not ref.startswith("//"), ref
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", html)
    assert 'url: "/api/schema/"' in html
    for ref in references:
        if ref.endswith((".js", ".css")):
            asset = client.get(ref)
            assert asset.status_code == 200, ref


def _component(schema: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    return schema["components"]["schemas"][content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]


def test_governance_operations_document_what_they_really_read_and_answer(schema):
    approvals = schema["paths"]["/api/v1/approvals/"]["get"]
    parameters = {p["name"]: p for p in approvals["parameters"] if p["in"] == "query"}
    assert {"status", "waiting_for_me", "document_type", "warehouse", "region"} <= set(parameters)
    assert "pending" in parameters["status"]["schema"]["enum"]
    assert parameters["waiting_for_me"]["schema"]["type"] == "boolean"
    assert "400" in approvals["responses"]  # an unknown status

    approve = schema["paths"]["/api/v1/approvals/{id}/approve/"]["post"]
    reject = schema["paths"]["/api/v1/approvals/{id}/reject/"]["post"]
    assert set(_component(schema, approve["requestBody"]["content"])["properties"]) == {"comment"}
    assert _component(schema, reject["requestBody"]["content"])["required"] == ["comment"]
    for operation in (approve, reject):
        assert "steps" in _component(schema, operation["responses"]["200"]["content"])["properties"]

    for verb in ("acknowledge", "resolve", "cancel"):
        answer = schema["paths"][f"/api/v1/exceptions/{{id}}/{verb}/"]["post"]["responses"]["200"]["content"]
        assert answer["application/json"]["schema"]["$ref"].endswith("/ExceptionOutput"), verb

    network = schema["paths"]["/api/v1/difference-from-core/network/"]["get"]["responses"]["200"]["content"]
    assert _component(schema, network)["properties"]["results"]["type"] == "array"


def test_fields_that_answer_null_are_documented_as_nullable(schema):
    components = schema["components"]["schemas"]
    for component, field in [("ExceptionOutput", "acknowledged_by"), ("ExceptionOutput", "resolved_by"),
                             ("ExceptionOutput", "warehouse"), ("StockMoveOutput", "lot"),
                             ("StockAdjustmentOutput", "lot")]:
        assert components[component]["properties"][field].get("nullable") is True, (component, field)
    assert not components["StockMoveOutput"]["properties"]["sku"].get("nullable")


def test_the_documented_stock_status_code_pattern_matches_the_real_codes(schema):
    from inventory.rules import STANDARD_STATUSES

    pattern = schema["components"]["schemas"]["StockStatusOutput"]["properties"]["code"]["pattern"]
    for code, *_ in STANDARD_STATUSES:
        assert re.fullmatch(pattern, code), (pattern, code)


def test_lists_document_a_page_past_the_end_and_invalid_filters(schema):
    responses = schema["paths"]["/api/v1/items/"]["get"]["responses"]
    assert {"400", "404"} <= set(responses)
    assert "400" not in schema["paths"]["/api/v1/regions/"]["get"]["responses"]  # only page and page_size
