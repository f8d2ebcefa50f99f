"""Flows of different environments never share a hook worker, through the real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from symbox.flowhooks.reports import HookReports
from symbox.sandbox.pool import HookIncident
from tests.fakes.configs import access_config
from tests.harness import harness

pytestmark = pytest.mark.anyio

HOOKS = """\
def on_request(event):
    return None
"""

STAGING = """
resource "sym_environment" "staging" {
  name = "staging"
}

resource "sym_flow" "staging_signoff" {
  name           = "staging-signoff"
  implementation = file("impl.py")
  environment_id = sym_environment.staging.id
  vars = {
    approvers = "alice@example.com"
  }
  params {
    allow_duplicate_requests = true
    prompt_field {
      name = "reason"
      type = "string"
    }
  }
}
"""


def two_environments(receiver_url: str) -> str:
    text = access_config(receiver_url, extra=STAGING)
    return text.replace('implementation = "# no hooks"', 'implementation = file("impl.py")', 1)


async def test_each_environment_has_its_own_workers(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(HOOKS)
    async with harness(tmp_path, config_text=two_environments) as h:
        pool = h.app.hook_pool
        assert pool is not None
        bound: dict[int, set[str | None]] = {}
        for _ in range(3):
            await h.request()
            staging = await h.call(
                "POST",
                "/api/v1/events/request",
                "carol@example.com",
                {"flow": "staging-signoff", "flow_inputs": {"reason": "test"}},
            )
            assert staging.status_code == 201, staging.text
            for pid, scope in pool.scopes().items():
                bound.setdefault(pid, set()).add(scope)
    used = {pid: scopes - {None} for pid, scopes in bound.items() if scopes - {None}}
    assert all(len(scopes) == 1 for scopes in used.values()), used
    assert {scope for scopes in used.values() for scope in scopes} == {
        "environment main",
        "environment staging",
    }


NOISY = """\
from sym.sdk.integrations import pagerduty


def on_request(event):
    # One integration call far over the frame limit: refused inside the hook.
    return pagerduty.is_on_call("x" * 2000000 + "@example.com")
"""


def sandbox_records(path: Path) -> list[dict[str, Any]]:
    """The audit file's sandbox records, oldest first."""
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [record for record in records if record["type"] == "sandbox"]


async def test_an_oversized_call_errors_its_run_and_breaks_no_worker(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(NOISY)
    async with harness(tmp_path, config_text=two_environments) as h:
        pool = h.app.hook_pool
        assert pool is not None
        run = await h.run(await h.request())
        assert run["status"] == "errored"
        assert "pagerduty.is_on_call: the call is" in run["error"]
        assert "impl.py" in run["error"]
        workers = set(pool.pids)
        assert (await h.run(await h.request()))["status"] == "errored"
        # The same worker served both: nothing broke the protocol.
        assert set(pool.pids) == workers
        assert sandbox_records(h.app.options.data_dir / "audit.jsonl") == []


async def test_a_replaced_worker_is_audited_naming_the_flows_behind_its_code(
    tmp_path: Path,
) -> None:
    (tmp_path / "impl.py").write_text(HOOKS)
    async with harness(tmp_path, config_text=two_environments) as h:
        reports = HookReports(h.app.config, h.app.record, h.app.metrics, h.clock)
        owner = str(tmp_path / "impl.py")
        await reports.misbehaved(
            HookIncident(
                scope="environment main",
                suspects=(owner,),
                victim="strategy grants",
                reason="worker sent a frame outside its call",
                retried=True,
            )
        )
        path = h.app.options.data_dir / "audit.jsonl"
        await h.wait_for(lambda: len(sandbox_records(path)) >= 1, "a sandbox record")
        [record] = sandbox_records(path)
        metrics = (await h.http.get("/metrics")).text
    assert record["event"]["type"] == "hook_error"
    assert record["fields"]["suspects"] == [f"{owner} (flow access, staging-signoff)"]
    assert record["fields"]["victim"] == "strategy grants"
    assert record["fields"]["retried"] is True
    assert record["state"]["errors"] == [
        f"hook worker replaced: worker sent a frame outside its call; {owner} "
        "(flow access, staging-signoff) had run on it"
    ]
    assert 'symbox_hook_worker_incidents_total{scope="environment main"} 1' in metrics
