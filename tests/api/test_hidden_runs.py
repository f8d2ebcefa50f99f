"""A run the caller may not read answers approve, deny and deescalate as a missing run."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.api.test_hooks import PERMISSIONS, hooked_config
from tests.api.test_refusals import refused_records
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

ACTIONS = ("approve", "deny", "deescalate")


async def act(h: Harness, action: str, run_id: str, as_: str) -> httpx.Response:
    body = {"run_id": run_id, "reason": "probe"}
    return await h.call("POST", f"/api/v1/events/{action}", as_, body)


async def assert_answers_as_missing(h: Harness, run_id: str, as_: str) -> None:
    """Each action on ``run_id`` answers exactly as on an id that does not exist."""
    missing_id = str(uuid.uuid4())
    for action in ACTIONS:
        hidden = await act(h, action, run_id, as_)
        missing = await act(h, action, missing_id, as_)
        assert hidden.status_code == missing.status_code == 404, (action, hidden.text)
        assert hidden.headers["content-type"] == missing.headers["content-type"]
        assert hidden.content.replace(run_id.encode(), missing_id.encode()) == missing.content
        get = await h.call("GET", f"/api/v1/runs/{run_id}", as_)
        assert get.content == hidden.content, action


async def test_hidden_runs_answer_as_missing_in_every_state(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        requested = await h.request()
        escalated = await h.request()
        assert (await h.approve(escalated)).json()["status"] == "escalated"
        denied = await h.request()
        deny = await h.call("POST", "/api/v1/events/deny", "bob@example.com", {"run_id": denied})
        assert deny.json()["status"] == "denied"
        for run_id in (requested, escalated, denied):
            await assert_answers_as_missing(h, run_id, "eve@example.com")
        # Nothing changed for anyone.
        assert (await h.run(requested))["status"] == "requested"
        assert (await h.run(escalated))["status"] == "escalated"
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}
        # Those who may read a run still hear why not: its requester, say.
        own = await h.approve(requested, as_="carol@example.com")
        assert own.status_code == 403 and "not an approver" in own.json()["message"]
        decided = await act(h, "approve", denied, "alice@example.com")
        assert decided.status_code == 409


async def test_get_permissions_approvers_still_decide_runs_they_cannot_list(
    tmp_path: Path,
) -> None:
    (tmp_path / "impl.py").write_text(PERMISSIONS)
    async with harness(tmp_path, config_text=hooked_config) as h:
        run_id = await h.request()
        # eve is neither in vars["approvers"] nor in the hook's list.
        await assert_answers_as_missing(h, run_id, "eve@example.com")
        # dave is only in the hook's list: he may decide, so he is told the outcome.
        approved = await h.approve(run_id, as_="dave@example.com")
        assert approved.json()["status"] == "escalated", approved.text
        again = await h.approve(run_id, as_="eve@example.com")
        assert again.status_code == 404


async def test_probing_a_hidden_run_leaves_a_trace(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = await h.request()
        assert (await act(h, "approve", run_id, "eve@example.com")).status_code == 404
        # A made-up id is only a miss: nothing was refused.
        assert (await act(h, "approve", str(uuid.uuid4()), "eve@example.com")).status_code == 404
        path = h.app.options.data_dir / "audit.jsonl"
        await h.wait_for(lambda: len(refused_records(path)) >= 1, "a refusal record")
        [record] = refused_records(path)
    assert record["fields"]["why"] == "hidden_run"
    assert record["fields"]["what"] == "POST /api/v1/events/approve"
    assert record["fields"]["detail"] == f"no run {run_id!r}"
