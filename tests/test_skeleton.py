from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_admin_sees_three_regions_and_six_warehouses(api_as):
    client = api_as("admin")
    assert client.get("/api/v1/regions/").json()["count"] == 3
    codes = [w["code"] for w in client.get("/api/v1/warehouses/").json()["results"]]
    assert codes == ["EU-DUS", "EU-RTM", "NE-BOS", "NE-NYC", "SE-ATL", "SE-MIA"]


def test_ne_operator_sees_only_the_northeast_warehouses(api_as):
    client = api_as("ne.operator")
    codes = [w["code"] for w in client.get("/api/v1/warehouses/").json()["results"]]
    assert codes == ["NE-BOS", "NE-NYC"]
    response = client.get("/api/v1/warehouses/EU-RTM/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
