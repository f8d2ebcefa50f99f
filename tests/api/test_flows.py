"""GET /api/v1/flows: what a client needs to build a request, for flows the API may request."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import harness

pytestmark = pytest.mark.anyio


async def test_flows_list_fields_and_targets(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        assert (await h.http.get("/api/v1/flows")).status_code == 401
        response = await h.call("GET", "/api/v1/flows", "carol@example.com")
        assert response.status_code == 200, response.text
        flows = {flow["name"]: flow for flow in response.json()["flows"]}
        access = flows["access"]
        assert {target["name"] for target in access["targets"]} == {"prod-db", "staging-db"}
        fields = {field["name"]: field for field in access["fields"]}
        assert fields["reason"]["type"] == "string" and fields["reason"]["required"]
        duration = fields["duration"]
        assert duration["type"] == "duration"
        assert duration["allowed_values"] == ["1m", "10m", "1h"]
        openapi = (await h.http.get("/openapi.json")).json()
        assert "/api/v1/flows" in openapi["paths"]
