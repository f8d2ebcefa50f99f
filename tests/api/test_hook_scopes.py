"""Flows of different environments never share a hook worker, through the real server."""

from __future__ import annotations

from pathlib import Path

import pytest

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
