"""Whole runs through the real HTTP API: grant, revoke on time, early revoke, overlaps."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import anyio
import pytest

from symbox.audit.verify import verify_file
from symbox.config.durations import iso
from tests.harness import harness

pytestmark = pytest.mark.anyio


async def test_request_approve_escalate_and_revoke_on_time(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        assert (await h.run(run_id))["status"] == "requested"
        response = await h.approve(run_id)
        assert response.status_code == 200, response.text
        run = response.json()
        assert run["status"] == "escalated"
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}
        [grant] = h.receiver.state.calls("escalate")
        assert grant.signature_ok
        assert grant.body["target"]["settings"] == {"identifier": "prod"}
        assert grant.body["fields"] == {"reason": "incident", "duration": 600}
        # The clock starts at escalation: ten minutes from now, not from the request.
        assert run["escalated_at"] is not None and run["grant"]["state"] == "active"

        await h.advance(599)
        await anyio.sleep(0.05)
        assert (await h.run(run_id))["status"] == "escalated"
        await h.advance(1)
        run = await h.wait_status(run_id, "deescalated")
        assert h.receiver.state.granted == set()
        names = [event["name"] for event in run["events"]]
        assert names == ["request", "approve", "escalate", "deescalate"]
        assert run["events"][-1]["details"] == {"reason": "expired"}
    audit = tmp_path / "data" / "audit.jsonl"
    result = verify_file(audit)
    assert result.ok, result.problem
    lines = audit.read_text().splitlines()
    assert "test-grant-secret" not in audit.read_text()
    assert [line for line in lines if run_id in line] != []


async def test_approval_only_flow_ends_at_approved(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.call(
            "POST",
            "/api/v1/events/request",
            "carol@example.com",
            {"flow": "signoff", "flow_inputs": {"reason": "friday deploy"}},
        )
        assert response.status_code == 201, response.text
        run_id = response.json()["run_id"]
        response = await h.approve(run_id)
        assert response.json()["status"] == "approved"
        assert h.receiver.state.requests == []


async def test_early_revoke_by_requester(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        await h.approve(run_id)
        stranger = await h.call(
            "POST", "/api/v1/events/deescalate", "mallory@example.com", {"run_id": run_id}
        )
        # Someone who may not read the run is told it does not exist.
        assert stranger.status_code == 404
        assert stranger.json()["message"] == f"no run {run_id!r}"
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}
        response = await h.call(
            "POST",
            "/api/v1/events/deescalate",
            "carol@example.com",
            {"run_id": run_id, "reason": "done early"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "deescalated"
        assert body["ended_by"] == {"kind": "user", "id": "carol@example.com"}
        assert h.receiver.state.granted == set()
        again = await h.call(
            "POST", "/api/v1/events/deescalate", "carol@example.com", {"run_id": run_id}
        )
        assert again.status_code == 409
        assert again.json() == {
            "error": "conflict",
            "message": f"run {run_id} is deescalated, not escalated",
            "code": "wrong_state",
            "status_code": 409,
        }


async def test_overlapping_grants_keep_access_until_the_last_ends(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        first = await h.request(duration="10m")
        await h.approve(first)
        await h.advance(300)
        second = await h.request(duration="10m")
        await h.approve(second)
        assert len(h.receiver.state.calls("escalate")) == 2

        await h.advance(300)  # the first run's ten minutes are up
        run = await h.wait_status(first, "deescalated")
        assert run["events"][-1]["details"]["covered_by"] == second
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}
        assert h.receiver.state.calls("deescalate") == []

        await h.advance(300)
        await h.wait_status(second, "deescalated")
        assert h.receiver.state.granted == set()
        assert len(h.receiver.state.calls("deescalate")) == 1


async def test_other_targets_and_users_do_not_overlap(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        prod = await h.request(duration="1m")
        staging = await h.request(duration="10m", target="staging-db")
        dave = await h.request(as_="dave@example.com", duration="10m")
        for run_id in (prod, staging, dave):
            await h.approve(run_id)
        await h.advance(60)
        await h.wait_status(prod, "deescalated")
        assert h.receiver.state.granted == {
            ("staging-db", "carol@example.com"),
            ("prod-db", "dave@example.com"),
        }


async def test_pending_requests_expire(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        await h.advance(3600)
        run = await h.wait_status(run_id, "expired")
        assert [event["name"] for event in run["events"]] == ["request", "request_expire"]
        late = await h.approve(run_id)
        assert late.status_code == 409


async def test_a_failed_grant_is_tried_again_and_the_run_waits_meanwhile(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.receiver.state.fail_with = [500, 503]
        run_id = await h.request()
        body = (await h.approve(run_id)).json()
        assert body["status"] == "approved"
        grant = body["grant"]
        assert grant["state"] == "escalating" and grant["attempts"] == 1
        assert "HTTP 500" in grant["last_error"] and grant["next_attempt_at"] is not None
        # Backoff: the second attempt within 1.5 s (FAST_RETRIES), the third within 3 s more.
        await h.advance(1.5)

        async def second_attempt_recorded() -> bool:
            return bool((await h.run(run_id))["grant"]["attempts"] == 2)

        # The next attempt is timed from when this one's failure is recorded.
        await h.wait_for(second_attempt_recorded, "the second grant attempt")
        await h.advance(3)
        run = await h.wait_status(run_id, "escalated")
        assert run["grant"]["attempts"] == 0 and run["grant"]["last_error"] is None
        names = [event["name"] for event in run["events"]]
        assert names == ["request", "approve", "escalate_failed", "escalate_failed", "escalate"]
        assert h.receiver.state.calls("deescalate") == []


async def test_a_grant_failing_past_escalate_timeout_errors_and_cleans_up(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        h.receiver.state.refuse_escalations = 500
        run_id = await h.request()
        body = (await h.approve(run_id)).json()
        assert body["status"] == "approved"
        for _ in range(12):  # the default escalate_timeout is 5 minutes
            await h.advance(30)
            await anyio.sleep(0.05)
        run = await h.wait_status(run_id, "errored")
        assert "HTTP 500" in run["error"]
        attempts = [event for event in run["events"] if event["name"] == "escalate_failed"]
        assert len(attempts) >= 3
        # The last attempt is made at the bound, not after it.
        approved_at = next(e for e in run["events"] if e["name"] == "approve")["timestamp"]
        assert approved_at < run["events"][-1]["timestamp"]
        # The possibly half-made grant is revoked once the run errors.
        await h.wait_for(lambda: len(h.receiver.state.calls("deescalate")) == 1, "the cleanup")
        assert (await h.wait_status(run_id, "errored"))["grant"]["state"] == "revoked"


async def test_failed_revocation_retries_with_backoff_then_is_flagged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="symbox")
    async with harness(tmp_path) as h:
        run_id = await h.request(duration="1m")
        await h.approve(run_id)
        h.receiver.state.fail_with = [503, 503, 503, 503]
        await h.advance(60)
        run = await h.wait_status(run_id, "escalated")

        async def first_attempt() -> bool:
            return bool((await h.run(run_id))["grant"]["attempts"] == 1)

        await h.wait_for(first_attempt, "the first revoke attempt")
        run = await h.run(run_id)
        assert run["grant"]["state"] == "revoking"
        # The log says the access is still in place, and until when at least.
        [retry] = [r for r in caplog.records if r.getMessage() == "revoke failed; trying again"]
        assert retry.__dict__["run_id"] == run_id and retry.__dict__["attempt"] == 1
        assert iso(retry.__dict__["next_attempt_at"]) == run["grant"]["next_attempt_at"]
        assert "HTTP 503" in retry.__dict__["error"]
        for _ in range(2):  # attempts 2 and 3, each after its backoff (at most 1.5 s, 3 s)
            attempts = run["grant"]["attempts"]
            await h.advance(3.1)

            async def advanced(before: int = attempts) -> bool:
                return bool((await h.run(run_id))["grant"]["attempts"] > before)

            await h.wait_for(advanced, "another revoke attempt")
            run = await h.run(run_id)
        assert run["grant"]["state"] == "failing" and run["grant"]["failing_to_revoke"]
        metrics = (await h.http.get("/metrics")).text
        assert "symbox_grants_failing_to_revoke 1" in metrics
        # Still retried at the slow interval: the fourth 503 keeps it failing, then it works.
        await h.advance(600)

        async def fourth_attempt() -> bool:
            return bool((await h.run(run_id))["grant"]["attempts"] == 4)

        await h.wait_for(fourth_attempt, "the first slow retry")
        assert (await h.run(run_id))["grant"]["state"] == "failing"
        await h.advance(600)
        run = await h.wait_status(run_id, "deescalated")
        assert h.receiver.state.granted == set()
        failures = [event for event in run["events"] if event["name"] == "deescalate_failed"]
        assert len(failures) == 4 and "HTTP 503" in failures[0]["error"]


async def test_a_grant_that_cannot_be_recorded_is_revoked(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        # Fault injection at the storage boundary: recording any escalation fails.
        with sqlite3.connect(tmp_path / "data" / "symbox.db") as conn:
            conn.execute(
                "CREATE TRIGGER refuse_escalation BEFORE UPDATE ON runs"
                " WHEN NEW.status = 'escalated' BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            )
        response = await h.approve(run_id)
        body = response.json()
        assert body["status"] == "errored", body
        assert body["error"] == "recording the grant failed: IntegrityError"
        assert len(h.receiver.state.calls("escalate")) == 1
        assert len(h.receiver.state.calls("deescalate")) == 1
        assert h.receiver.state.granted == set()
        assert body["grant"]["state"] == "revoked"
