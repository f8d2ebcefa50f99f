"""Bad input gets a clear JSON error, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from symbox.cli.tokens import issue_token, revoke_token
from symbox.engine.model import Actor
from tests.harness import harness

pytestmark = pytest.mark.anyio

REQUEST = "/api/v1/events/request"


def error_of(body: dict[str, Any]) -> tuple[str, int]:
    assert set(body) == {"error", "message", "code", "status_code"}, body
    return body["code"], body["status_code"]


async def test_tokens_are_required_and_checked(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        missing = await h.http.post(REQUEST, json={})
        assert missing.status_code == 401 and error_of(missing.json()) == ("missing_token", 401)
        wrong = await h.http.post(REQUEST, json={}, headers={"Authorization": "Bearer sbx_nope"})
        assert error_of(wrong.json()) == ("invalid_token", 401)

        operator = Actor("operator", "test")
        secret, record = await issue_token(
            h.app.writer,
            kind="user",
            subject="carol@example.com",
            label=None,
            now=h.clock.now(),
            expires_in=60,
            issued_by=operator,
        )
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await h.http.get("/api/v1/runs", headers=headers)).status_code == 200
        h.clock.advance(60)
        expired = await h.http.get("/api/v1/runs", headers=headers)
        assert error_of(expired.json()) == ("invalid_token", 401)

        secret, record = await issue_token(
            h.app.writer,
            kind="bot",
            subject="ops",
            label=None,
            now=h.clock.now(),
            expires_in=None,
            issued_by=operator,
        )
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await h.http.get("/api/v1/runs", headers=headers)).status_code == 200
        assert await revoke_token(h.app.writer, record.id, now=h.clock.now(), revoked_by=operator)
        revoked = await h.http.get("/api/v1/runs", headers=headers)
        assert error_of(revoked.json()) == ("invalid_token", 401)


async def test_health_metrics_and_openapi_need_no_token(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        assert (await h.http.get("/healthz")).json() == {"status": "ok"}
        metrics = await h.http.get("/metrics")
        assert metrics.status_code == 200 and "# TYPE symbox_grants_active gauge" in metrics.text
        document = (await h.http.get("/openapi.json")).json()
        assert document["openapi"].startswith("3.")
        assert "/api/v1/events/request" in document["paths"]


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"flow": "nope", "flow_inputs": {}}, 400, "bad_request", "no flow named 'nope'"),
        ({"flow_inputs": {}}, 400, "missing_field", "flow: required"),
        ({"flow": "access", "flow_inputs": []}, 400, "invalid_field", "flow_inputs"),
        (
            {"flow": "access", "flow_inputs": {"duration": "10m", "target": "prod-db"}},
            400,
            "invalid_inputs",
            "reason: required",
        ),
        (
            {"flow": "access", "flow_inputs": {"reason": " \t", "duration": "10m"}},
            400,
            "invalid_inputs",
            "reason: required",
        ),
        (
            {
                "flow": "access",
                "flow_inputs": {"reason": "x", "duration": "2d", "target": "prod-db"},
            },
            400,
            "invalid_inputs",
            "duration: '2d' is not allowed (allowed: 1m, 10m, 1h)",
        ),
        (
            {"flow": "access", "user_email": "dave@example.com", "flow_inputs": {}},
            403,
            "forbidden",
            "only request access for its own user",
        ),
    ],
)
async def test_invalid_requests(
    tmp_path: Path, body: dict[str, Any], status: int, code: str, message: str
) -> None:
    async with harness(tmp_path) as h:
        response = await h.call("POST", REQUEST, "carol@example.com", body)
        assert error_of(response.json()) == (code, status)
        assert message in response.json()["message"]


async def test_malformed_and_oversized_bodies(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        headers = {"Authorization": f"Bearer {await h.token('carol@example.com')}"}
        broken = await h.http.post(REQUEST, content=b"{not json", headers=headers)
        assert error_of(broken.json()) == ("malformed_json", 400)
        array = await h.http.post(REQUEST, content=b"[1, 2]", headers=headers)
        assert error_of(array.json()) == ("malformed_json", 400)
        binary = await h.http.post(REQUEST, content=b"\xff\xfe", headers=headers)
        assert error_of(binary.json()) == ("malformed_json", 400)
        huge = await h.http.post(REQUEST, content=b" " * (64 * 1024 + 1), headers=headers)
        assert error_of(huge.json()) == ("body_too_large", 413)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(80):
                yield b" " * 1024

        streamed = await h.http.post(REQUEST, content=chunks(), headers=headers)
        assert error_of(streamed.json()) == ("body_too_large", 413)


async def test_bots_request_for_a_named_user_only(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        inputs = {"reason": "x", "duration": "1m", "target": "prod-db"}
        nameless = await h.call("POST", REQUEST, "ci", {"flow": "access", "flow_inputs": inputs})
        assert error_of(nameless.json()) == ("bad_request", 400)
        response = await h.call(
            "POST",
            REQUEST,
            "ci",
            {"flow": "access", "user_email": "Dave@Example.com", "flow_inputs": inputs},
        )
        assert response.status_code == 201
        run = await h.run(response.json()["run_id"])
        assert run["requester"] == "dave@example.com"
        assert run["submitted_by"] == {"kind": "bot", "id": "ci"}


async def test_sym_flow_srn_is_accepted(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        body = {
            "flow_srn": "acme:flow:access:latest",
            "flow_inputs": {"reason": "x", "duration": "1m", "target": "prod-db"},
        }
        response = await h.call("POST", REQUEST, "carol@example.com", body)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "requested"


async def test_unknown_runs_and_events_are_404(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.call("GET", "/api/v1/runs/nope", "ci")
        assert error_of(response.json()) == ("not_found", 404)
        response = await h.call("GET", "/api/v1/events/nope", "ci")
        assert error_of(response.json()) == ("not_found", 404)
        response = await h.call("POST", "/api/v1/events/approve", "ci", {"run_id": "nope"})
        assert error_of(response.json()) == ("not_found", 404)
        response = await h.call("POST", "/api/v1/events/approve", "ci", {})
        assert error_of(response.json()) == ("missing_field", 400)
        wrong_method = await h.http.delete("/api/v1/runs")
        assert error_of(wrong_method.json())[1] == 405


async def test_listing_filters_and_pages(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        ids = []
        for _ in range(5):
            ids.append(await h.request())
            h.clock.advance(1)
        await h.approve(ids[0])
        seen: list[str] = []
        cursor = None
        while True:
            query = "/api/v1/runs?limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = (await h.call("GET", query, "ci")).json()
            seen.extend(run["run_id"] for run in page["runs"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))
        escalated = (await h.call("GET", "/api/v1/runs?status=escalated", "ci")).json()
        assert [run["run_id"] for run in escalated["runs"]] == [ids[0]]
        bad = await h.call("GET", "/api/v1/runs?limit=0", "ci")
        assert error_of(bad.json()) == ("invalid_query", 400)
        event = (await h.call("GET", f"/api/v1/events/{ids[0]}.1", "ci")).json()
        assert (event["run_id"], event["name"], event["status"]) == (ids[0], "request", "requested")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        (b'{"flow": ' + b"9" * 5000 + b"}", "digits"),
        (b'{"flow": "access", "run_id": "\\ud800"}', "surrogate"),
    ],
)
async def test_hostile_json_is_a_400(tmp_path: Path, body: bytes, reason: str) -> None:
    async with harness(tmp_path) as h:
        headers = {"Authorization": f"Bearer {await h.token('carol@example.com')}"}
        for path in (REQUEST, "/api/v1/events/approve"):
            response = await h.http.post(path, content=body, headers=headers)
            assert error_of(response.json()) == ("malformed_json", 400)
            assert reason in response.json()["message"]


async def test_users_read_only_their_own_runs_and_those_they_approve(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        carols = await h.request()
        daves = await h.request(as_="dave@example.com")
        for reader, visible in (
            ("carol@example.com", {carols}),
            ("dave@example.com", {daves}),
            ("alice@example.com", {carols, daves}),  # an approver of the flow
            ("reader", {carols, daves}),  # a bot
            ("eve@example.com", set()),
        ):
            listed = (await h.call("GET", "/api/v1/runs", reader)).json()["runs"]
            assert {run["run_id"] for run in listed} == visible, reader
            for run_id in (carols, daves):
                expected = 200 if run_id in visible else 404
                response = await h.call("GET", f"/api/v1/runs/{run_id}", reader)
                assert response.status_code == expected, (reader, run_id)
                event = await h.call("GET", f"/api/v1/events/{run_id}.1", reader)
                assert event.status_code == expected, (reader, run_id)
        hidden = await h.call("GET", f"/api/v1/runs/{carols}", "eve@example.com")
        assert hidden.json()["message"] == f"no run {carols!r}"
