"""Who may decide, and what happens when decisions race."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from tests.harness import harness

pytestmark = pytest.mark.anyio


async def test_only_approvers_decide_and_never_their_own_request(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        stranger = await h.approve(run_id, as_="mallory@example.com")
        assert stranger.status_code == 404
        assert stranger.json()["message"] == f"no run {run_id!r}"
        own = await h.request(as_="alice@example.com")
        selfie = await h.approve(own, as_="alice@example.com")
        assert selfie.status_code == 403
        assert "own request" in selfie.json()["message"]
        assert (await h.run(own))["status"] == "requested"
        assert h.receiver.state.requests == []


async def test_a_listed_bot_decides_as_itself(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        response = await h.call("POST", "/api/v1/events/deny", "ci", {"run_id": run_id})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "denied"
        assert body["decisions"][0]["actor"] == {"kind": "bot", "id": "ci"}


async def test_simultaneous_approvals_escalate_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        await h.token("bob@example.com")
        results: list[httpx.Response] = []

        async def approve(who: str) -> None:
            results.append(await h.approve(run_id, as_=who))

        async with anyio.create_task_group() as group:
            for who in ("alice@example.com", "bob@example.com") * 3:
                group.start_soon(approve, who)
        statuses = sorted(response.status_code for response in results)
        assert statuses == [200, 409, 409, 409, 409, 409]
        [approved] = [response.json() for response in results if response.status_code == 200]
        assert approved["status"] == "escalated"
        assert len(h.receiver.state.calls("escalate")) == 1
        run = await h.run(run_id)
        assert [event["name"] for event in run["events"]] == ["request", "approve", "escalate"]
        assert len(h.app.schedule) == 1


async def test_approve_racing_deny_has_one_outcome(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        for _ in range(5):
            run_id = await h.request()
            results: dict[str, int] = {}

            async def decide(
                path: str, who: str, run: str = run_id, results: dict[str, int] = results
            ) -> None:
                response = await h.call("POST", f"/api/v1/events/{path}", who, {"run_id": run})
                results[path] = response.status_code

            async with anyio.create_task_group() as group:
                group.start_soon(decide, "approve", "alice@example.com")
                group.start_soon(decide, "deny", "bob@example.com")
            assert sorted(results.values()) == [200, 409]
            run = await h.run(run_id)
            expected = "escalated" if results["approve"] == 200 else "denied"
            assert run["status"] == expected
            assert len(run["decisions"]) == 1


async def test_a_bot_cannot_approve_what_it_requested(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.call(
            "POST",
            "/api/v1/events/request",
            "ci",
            {
                "flow": "access",
                "user_email": "mallory@example.com",
                "flow_inputs": {"reason": "x", "duration": "1m", "target": "prod-db"},
            },
        )
        run_id = response.json()["run_id"]
        refused = await h.approve(run_id, as_="ci")
        assert refused.status_code == 403
        assert "submitted" in refused.json()["message"]
        assert h.receiver.state.requests == []
