"""The client's commands against a real server (in-process, real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio.from_thread
import pytest

from tests.client.driver import client
from tests.fakes.configs import access_config, approval_flow
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

CAROL, ALICE = "carol@example.com", "alice@example.com"
ASK = ("--reason", "incident 7", "--duration", "10m", "--target", "prod-db")


async def test_request_pending_approve_grants_revoke(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        requested = await client(h, CAROL, "request", "access", *ASK, "--quiet")
        assert requested.code == 0, requested.err
        run_id = requested.out.strip()
        # Carol may not decide her own request, so it is not pending for her.
        assert (await client(h, CAROL, "pending")).out.strip() == "nothing waits for your decision"
        pending = await client(h, ALICE, "pending")
        header, row = pending.out.splitlines()
        assert header.split() == [
            "RUN", "FLOW", "REQUESTER", "TARGET", "FOR", "REASON", "ASKED", "EXPIRES"
        ]  # fmt: skip
        assert row.split()[:6] == [run_id, "access", CAROL, "prod-db", "10m", "incident"]
        assert header.index("FLOW") == row.index("access")
        assert "(in 1 h)" in row
        as_json = json.loads((await client(h, ALICE, "pending", "--output", "json")).out)
        assert [run["run_id"] for run in as_json] == [run_id]
        approved = await client(h, ALICE, "approve", run_id, "--reason", "go")
        assert approved.code == 0 and approved.out.startswith(f"run {run_id} escalated: access")
        assert "(in 10 min)" in approved.out
        h.clock.advance(120)
        grants = await client(h, CAROL, "grants")
        assert grants.code == 0
        lines = grants.out.splitlines()
        assert lines[0].split() == ["RUN", "FLOW", "TARGET", "SINCE", "LEFT", "EXPIRES"]
        assert lines[1].startswith(f"{run_id}  access  prod-db")
        assert "8 min" in lines[1] and "(2 min ago)" in lines[1] and "(in 8 min)" in lines[1]
        # Alice approves the flow, so she may read the run, but the grant is not hers.
        assert (await client(h, ALICE, "grants")).out.strip() == "you hold no access now"
        refused = await client(h, ALICE, "grants", "--all")
        assert refused.code == 1 and "may not list every run" in refused.err
        everyone = await client(h, "auditor", "grants", "--all", "--output", "json")
        assert [run["requester"] for run in json.loads(everyone.out)] == [CAROL]
        revoked = await client(h, CAROL, "revoke", run_id, "--output", "json")
        assert json.loads(revoked.out)["status"] == "deescalated"
        again = await client(h, CAROL, "revoke", run_id)
        assert again.code == 1 and "(HTTP 409)" in again.err
        assert (await client(h, CAROL, "grants")).out.strip() == "you hold no access now"


async def test_wait_follows_the_run_until_it_is_decided(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        polls: list[float] = []

        def approve_on_first_poll(seconds: float) -> None:
            polls.append(seconds)
            if len(polls) == 1:
                [run] = anyio.from_thread.run(_pending, h)
                anyio.from_thread.run(h.approve, run)

        waited = await client(
            h,
            CAROL,
            "request",
            "access",
            *ASK,
            "--wait",
            "--interval",
            "0.5",
            sleep=approve_on_first_poll,
        )
        assert waited.code == 0, waited.err
        assert polls == [0.5]
        # Without a terminal, one status line per change.
        lines = waited.err.splitlines()
        assert "requested: waiting for a decision" in lines[0]
        assert "escalated: access until" in lines[1]
        assert "escalated" in waited.out

        def deny(seconds: float) -> None:
            [run] = anyio.from_thread.run(_pending, h)
            anyio.from_thread.run(
                h.call, "POST", "/api/v1/events/deny", ALICE, {"run_id": run, "reason": "no"}
            )

        denied = await client(h, CAROL, "request", "access", *ASK, "--wait", sleep=deny)
        assert denied.code == 1
        assert f"denied: by {ALICE}: no" in denied.out


async def _pending(h: Harness) -> list[str]:
    response = await h.call("GET", "/api/v1/runs?decidable=true", ALICE)
    return [run["run_id"] for run in response.json()["runs"]]


async def test_missing_fields_are_asked_on_a_terminal_and_refused_elsewhere(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        refused = await client(h, CAROL, "request", "access", "--reason", "x")
        assert refused.code == 2
        assert "needs: duration, target" in refused.err
        asked = await client(
            h,
            CAROL,
            "request",
            "access",
            "--output",
            "json",
            answers=["", "because", "2", "9", "prod-db"],
        )
        assert asked.code == 0, asked.err
        prompts = asked.err.splitlines()
        assert prompts[0] == "reason:   please answer"
        assert prompts[1:5] == ["reason: duration:", "  1) 1m", "  2) 10m", "  3) 1h"]
        assert "Target [1-2]:   please answer one of 1-2" in prompts
        run = await h.run(json.loads(asked.out)["run_id"])
        assert run["fields"]["reason"] == "because"
        assert run["fields"]["duration"] == 600
        assert run["target"] == "prod-db"


TYPED_FLOW = approval_flow(
    "tuning",
    """    prompt_field {
      name = "replicas"
      type = "int"
    }
    prompt_field {
      name     = "urgent"
      type     = "bool"
      label    = "Is it urgent?"
      required = true
    }""",
)


async def test_fields_are_sent_as_their_types(tmp_path: Path) -> None:
    def config(url: str) -> str:
        return access_config(url, extra=TYPED_FLOW)

    async with harness(tmp_path, config_text=config) as h:
        given = await client(
            h, CAROL, "request", "tuning", "--field", "replicas=3", "--field", "urgent=yes", "-q"
        )
        assert given.code == 0, given.err
        run = await h.run(given.out.strip())
        assert run["fields"]["replicas"] == 3 and run["fields"]["urgent"] is True
        asked = await client(
            h, CAROL, "request", "tuning", "-q", answers=["maybe", "2", "maybe", "n"]
        )
        assert asked.code == 0, asked.err
        assert "Is it urgent? [y/n]: " in asked.err
        run = await h.run(asked.out.strip())
        assert run["fields"]["urgent"] is False and run["fields"]["replicas"] == 2
        wrong = await client(
            h, CAROL, "request", "tuning", "--field", "replicas=lots", "--field", "urgent=y"
        )
        assert wrong.code == 1 and "replicas" in wrong.err and "(HTTP 400)" in wrong.err


async def test_extend_waits_in_pending_until_an_approver_decides(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        run_id = (await client(h, CAROL, "request", "access", *ASK, "-q")).out.strip()
        await h.approve(run_id)
        h.clock.advance(60)
        asked = await client(h, CAROL, "extend", run_id, "--by", "30m", "--reason", "not done")
        assert asked.code == 0, asked.err
        assert asked.out.splitlines()[1] == "extension: pending"
        pending = (await client(h, ALICE, "pending")).out.splitlines()
        assert pending[1].split()[:6] == [run_id, "access", CAROL, "prod-db", "+30m", "not"]
        assert "(in 9 min)" in pending[1]
        approved = await client(h, ALICE, "approve", run_id)
        assert approved.code == 0 and "(in 39 min)" in approved.out
        assert (await client(h, ALICE, "pending")).out.strip() == "nothing waits for your decision"
