"""Requests that need two or more approvers, through the real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest

from tests.client.driver import client
from tests.fakes.configs import access_config
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

ALICE, BOB, DAVE, ERIN = (f"{name}@example.com" for name in ("alice", "bob", "dave", "erin"))
CAROL = "carol@example.com"
APPROVERS = "alice@example.com,bob@example.com,dave@example.com,erin@example.com,bot:ci"


def quorum_config(
    params: str, *, extra_vars: str = "", self_approval: bool = False
) -> Callable[[str], str]:
    """The access flow with more approvers, ``params`` added and ``extra_vars`` in its vars."""

    def text(url: str) -> str:
        config = access_config(url)
        more_vars = extra_vars + ('    allow_self_approval = "true"\n' if self_approval else "")
        config = config.replace(
            '    approvers = "alice@example.com,bob@example.com,bot:ci"\n',
            f'    approvers = "{APPROVERS}"\n{more_vars}',
            1,
        )
        anchor = "    strategy_id = sym_strategy.grants.id\n"
        return config.replace(anchor, f"{anchor}{params}", 1)

    return text


TWO = quorum_config("    approvals_required = 2\n")


async def _events(h: Harness, run_id: str) -> list[tuple[str, str, dict[str, object]]]:
    response = await h.call("GET", f"/api/v1/runs/{run_id}", "reader")
    return [
        (event["name"], event["status"], event.get("details") or {})
        for event in response.json()["events"]
    ]


async def test_two_approvers_then_the_grant(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=TWO) as h:
        run_id = await h.request()
        fresh = await h.run(run_id)
        assert (fresh["approvals"], fresh["approvals_required"]) == ([], 2)
        first = await h.approve(run_id, as_=ALICE)
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["status"] == "requested"
        assert [item["actor"]["id"] for item in body["approvals"]] == [ALICE]
        assert body["approvals_required"] == 2 and body["decisions"] == []
        assert h.receiver.state.calls("escalate") == []
        # Alice has decided; Bob still has something to decide.
        pending = await h.call("GET", "/api/v1/runs?decidable=true", ALICE)
        assert pending.json()["runs"] == []
        pending = await h.call("GET", "/api/v1/runs?decidable=true", BOB)
        assert [run["run_id"] for run in pending.json()["runs"]] == [run_id]
        second = await h.approve(run_id, as_=BOB)
        assert second.status_code == 200, second.text
        done = second.json()
        assert done["status"] == "escalated"
        assert [item["actor"]["id"] for item in done["approvals"]] == [ALICE, BOB]
        assert done["decisions"][0]["actor"]["id"] == BOB
        assert len(h.receiver.state.calls("escalate")) == 1
        assert await _events(h, run_id) == [
            ("request", "requested", {}),
            ("approve", "requested", {"approvals": 1, "required": 2}),
            ("approve", "approved", {"approvals": 2, "required": 2}),
            ("escalate", "escalated", {"expires_at": pytest.approx(h.clock.now() + 600)}),
        ]


async def test_the_same_approver_twice_is_a_conflict(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=TWO) as h:
        run_id = await h.request()
        assert (await h.approve(run_id, as_=ALICE)).status_code == 200
        again = await h.approve(run_id, as_="Alice@Example.com")
        assert again.status_code == 409
        assert f"{ALICE} already approved run {run_id} (1 of 2)" in again.json()["message"]
        run = await h.run(run_id)
        assert run["status"] == "requested" and len(run["approvals"]) == 1


async def test_the_requester_never_counts_even_with_self_approval(tmp_path: Path) -> None:
    config = quorum_config("    approvals_required = 2\n", self_approval=True)
    async with harness(tmp_path, config_text=config) as h:
        run_id = await h.request(as_=ALICE)
        own = await h.approve(run_id, as_=ALICE)
        assert own.status_code == 403
        assert "requester's own approval does not count" in own.json()["message"]
        assert (await h.approve(run_id, as_=BOB)).json()["status"] == "requested"
        assert (await h.approve(run_id, as_=DAVE)).json()["status"] == "escalated"


async def test_a_deny_after_one_approval_ends_the_request(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=TWO) as h:
        run_id = await h.request()
        assert (await h.approve(run_id, as_=ALICE)).status_code == 200
        denied = await h.call(
            "POST", "/api/v1/events/deny", BOB, {"run_id": run_id, "reason": "not today"}
        )
        assert denied.status_code == 200, denied.text
        assert denied.json()["status"] == "denied"
        late = await h.approve(run_id, as_=DAVE)
        assert late.status_code == 409
        assert h.receiver.state.calls("escalate") == []


async def test_a_per_group_quorum_needs_each_group(tmp_path: Path) -> None:
    config = quorum_config(
        '    approvals = [{ from = "prod", count = 1 }, { from = "security", count = 1 }]\n',
        extra_vars='    prod = "alice@example.com,bob@example.com"\n'
        '    security = "dave@example.com"\n',
    )
    async with harness(tmp_path, config_text=config) as h:
        run_id = await h.request()
        assert (await h.run(run_id))["approvals_required"] == 2
        assert (await h.approve(run_id, as_=ALICE)).json()["status"] == "requested"
        # Another prod approver fills no place: security must still approve.
        bob = await h.approve(run_id, as_=BOB)
        assert bob.status_code == 409
        assert "still needed: 1 from security" in bob.json()["message"]
        done = await h.approve(run_id, as_=DAVE)
        assert done.json()["status"] == "escalated"
        assert [item["actor"]["id"] for item in done.json()["approvals"]] == [ALICE, DAVE]


async def test_racing_approvals_decide_once_and_escalate_once(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=TWO) as h:
        run_id = await h.request()
        people = (ALICE, BOB, DAVE, ERIN, "ci")
        for who in people:
            await h.token(who)
        results: list[httpx.Response] = []

        async def approve(who: str) -> None:
            results.append(await h.approve(run_id, as_=who))

        async with anyio.create_task_group() as group:
            for who in people * 2:
                group.start_soon(approve, who)
        outcomes = sorted(
            (response.status_code, response.json().get("status")) for response in results
        )
        # One approval is partial, one meets the quorum, every other one is too late.
        assert outcomes[:2] == [(200, "escalated"), (200, "requested")]
        assert {code for code, _ in outcomes[2:]} == {409}
        assert len(h.receiver.state.calls("escalate")) == 1
        events = [name for name, _, _ in await _events(h, run_id)]
        assert events == ["request", "approve", "approve", "escalate"]
        assert len((await h.run(run_id))["approvals"]) == 2


GET_PERMISSIONS = """
from sym.sdk.annotations import reducer
from sym.sdk.request_permission import PermissionLevel, RequestPermission


@reducer
def get_permissions(event):
    return RequestPermission(
        webapp_view=PermissionLevel.ADMIN, approve_deny=PermissionLevel.ADMIN, approvals_required=3
    )
"""


async def test_get_permissions_sets_the_number(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(GET_PERMISSIONS)

    def config(url: str) -> str:
        text = access_config(url).replace(
            '    approvers = "alice@example.com,bob@example.com,bot:ci"\n',
            f'    approvers = "{APPROVERS}"\n',
            1,
        )
        return text.replace('implementation = "# no hooks"', 'implementation = file("impl.py")', 1)

    async with harness(tmp_path, config_text=config) as h:
        run_id = await h.request()
        for who in (ALICE, BOB):
            answer = await h.approve(run_id, as_=who)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "requested"
            assert answer.json()["approvals_required"] == 3
        assert (await h.approve(run_id, as_=DAVE)).json()["status"] == "escalated"


async def test_the_client_shows_progress(tmp_path: Path) -> None:
    async with harness(tmp_path, config_text=TWO) as h:
        run_id = await h.request()
        approved = await client(h, ALICE, "approve", run_id)
        assert approved.code == 0, approved.err
        assert "requested: waiting for a decision (1 of 2 approvals)" in approved.out
        pending = await client(h, BOB, "pending")
        header, row = pending.out.splitlines()
        assert header.split()[6] == "APPROVED"
        assert row.split()[6:9] == ["1", "of", "2"]


HOOKS = """
from sym.sdk.annotations import hook
from sym.sdk.templates import ApprovalTemplate


@hook
def on_approve(event):
    if event.user.email == "erin@example.com":
        return ApprovalTemplate.ignore(message="erin may not approve today")


@hook
def after_approve(event):
    raise RuntimeError("after_approve ran")
"""


async def test_on_approve_runs_for_each_approval_and_after_approve_once(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(HOOKS)

    def config(url: str) -> str:
        return TWO(url).replace(
            'implementation = "# no hooks"', 'implementation = file("impl.py")', 1
        )

    async with harness(tmp_path, config_text=config) as h:
        run_id = await h.request()
        assert (await h.approve(run_id, as_=ALICE)).json()["status"] == "requested"
        ignored = await h.approve(run_id, as_=ERIN)
        assert ignored.status_code == 403
        assert "erin may not approve today" in ignored.json()["message"]
        assert (await h.approve(run_id, as_=BOB)).json()["status"] == "escalated"
        events = await _events(h, run_id)
        errors = [details for name, _, details in events if name == "hook_error"]
        assert errors == [{"hook": "after_approve"}]
