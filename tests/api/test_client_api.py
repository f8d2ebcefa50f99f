"""What the terminal client needs from the API: withdraw, decidable, mine/all, whoami."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.test_hooks import PERMISSIONS, hooked_config
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio


async def _ids(h: Harness, query: str, as_: str) -> list[str]:
    response = await h.call("GET", f"/api/v1/runs?{query}", as_)
    assert response.status_code == 200, response.text
    return [run["run_id"] for run in response.json()["runs"]]


async def test_the_requester_withdraws_a_pending_request(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        body = {"run_id": run_id, "reason": "fixed already"}
        approver = await h.call("POST", "/api/v1/events/withdraw", "alice@example.com", body)
        assert approver.status_code == 403, approver.text
        stranger = await h.call("POST", "/api/v1/events/withdraw", "eve@example.com", body)
        assert stranger.status_code == 404
        own = await h.call("POST", "/api/v1/events/withdraw", "carol@example.com", body)
        assert own.status_code == 200, own.text
        assert own.json()["status"] == "withdrawn"
        assert own.json()["ended_by"] == {"kind": "user", "id": "carol@example.com"}
        again = await h.call("POST", "/api/v1/events/withdraw", "carol@example.com", body)
        assert again.status_code == 409
        late = await h.approve(run_id)
        assert late.status_code == 409
        run = await h.run(run_id)
        assert [event["name"] for event in run["events"]] == ["request", "withdraw"]
        path = h.app.options.data_dir / "audit.jsonl"

        def withdrawals() -> list[dict[str, object]]:
            lines = path.read_text().splitlines() if path.exists() else []
            records = [json.loads(line) for line in lines]
            return [r for r in records if "withdraw" in json.dumps(r)]

        await h.wait_for(withdrawals, "the withdrawal's audit record")
        assert h.receiver.state.requests == []


async def test_a_bot_withdraws_what_it_submitted_but_not_an_escalated_run(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        body = {
            "flow": "access",
            "user_email": "carol@example.com",
            "flow_inputs": {"reason": "ci", "duration": "10m", "target": "prod-db"},
        }
        created = await h.call("POST", "/api/v1/events/request", "deployer", body)
        run_id = created.json()["run_id"]
        other_bot = await h.call("POST", "/api/v1/events/withdraw", "ci", {"run_id": run_id})
        assert other_bot.status_code == 403
        own = await h.call("POST", "/api/v1/events/withdraw", "deployer", {"run_id": run_id})
        assert own.json()["status"] == "withdrawn"
        escalated = await h.request()
        assert (await h.approve(escalated)).json()["status"] == "escalated"
        late = await h.call(
            "POST", "/api/v1/events/withdraw", "carol@example.com", {"run_id": escalated}
        )
        assert late.status_code == 409
        openapi = (await h.http.get("/openapi.json")).json()
        assert "/api/v1/events/withdraw" in openapi["paths"]
        assert "/api/v1/whoami" in openapi["paths"]


async def test_decidable_lists_what_the_caller_may_decide_now(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        carols = await h.request()
        h.clock.advance(1)
        alices = await h.request(as_="alice@example.com")
        decided = await h.request()
        await h.approve(decided)
        assert await _ids(h, "decidable=true", "alice@example.com") == [carols]
        assert await _ids(h, "decidable=true", "bob@example.com") == [alices, carols]
        assert await _ids(h, "decidable=true", "ci") == [alices, carols]
        assert await _ids(h, "decidable=true", "carol@example.com") == []
        assert await _ids(h, "decidable=true&limit=1", "bob@example.com") == [alices]
        # Past its time to live a request cannot be decided, even before the timer ends it.
        h.clock.advance(3601)
        assert await _ids(h, "decidable=true", "bob@example.com") == []
        bad = await h.call("GET", "/api/v1/runs?decidable=maybe", "bob@example.com")
        assert bad.status_code == 400


async def test_decidable_asks_get_permissions(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(PERMISSIONS)
    async with harness(tmp_path, config_text=hooked_config) as h:
        run_id = await h.request()
        h.clock.advance(1)
        open_run = await h.request(reason="anyone")
        assert await _ids(h, "decidable=true", "dave@example.com") == [open_run, run_id]
        assert await _ids(h, "decidable=true", "alice@example.com") == [open_run]
        assert await _ids(h, "decidable=true", "eve@example.com") == [open_run]
        assert await _ids(h, "decidable=true", "carol@example.com") == []


async def test_mine_all_and_whoami(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        carols = await h.request()
        h.clock.advance(1)
        alices = await h.request(as_="alice@example.com")
        # alice approves the access flow, so she sees carol's run, but it is not hers.
        assert await _ids(h, "", "alice@example.com") == [alices, carols]
        assert await _ids(h, "mine=true", "alice@example.com") == [alices]
        assert await _ids(h, "all=true", "reader") == [alices, carols]
        refused = await h.call("GET", "/api/v1/runs?all=true", "alice@example.com")
        assert refused.status_code == 403
        bot_mine = await h.call("GET", "/api/v1/runs?mine=true", "reader")
        assert bot_mine.status_code == 400
        me = await h.call("GET", "/api/v1/whoami", "carol@example.com")
        assert me.json() == {"kind": "user", "id": "carol@example.com"}
        assert (await h.http.get("/api/v1/whoami")).status_code == 401


async def test_decidable_lists_extensions_waiting_while_their_grant_runs(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        await h.approve(run_id)
        assert await _ids(h, "decidable=true", "bob@example.com") == []
        body = {"run_id": run_id, "duration": "30m"}
        asked = await h.call("POST", "/api/v1/events/extend", "carol@example.com", body)
        assert asked.json()["extension"]["status"] == "pending", asked.text
        assert await _ids(h, "decidable=true", "bob@example.com") == [run_id]
        assert await _ids(h, "decidable=true", "carol@example.com") == []
        # Once the grant's time is up, nobody can decide its extension any more.
        h.clock.advance(600)
        assert await _ids(h, "decidable=true", "bob@example.com") == []
