"""A var holding sym_target.X.id equals what hooks see of that target, as in Sym."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symbox.config import load_config
from tests.api.test_hooks import hooked_config
from tests.harness import harness

pytestmark = pytest.mark.anyio

HOOKS = """
from sym.sdk.templates import ApprovalTemplate


def on_request(event):
    target = event.payload.fields["target"]
    if target.id == event.flow.vars["auto_target"]:
        return ApprovalTemplate.approve(reason="staging is pre-approved")
    return None
"""

VARS = (
    "\n    auto_target = sym_target.staging_db.id"
    "\n    all_targets = jsonencode([sym_target.staging_db.id, sym_target.prod_db.id])"
)


def _config(receiver_url: str) -> str:
    text = hooked_config(receiver_url)
    approvers = 'approvers = "alice@example.com,bob@example.com,bot:ci"'
    return text.replace(approvers, approvers + VARS, 1)


def test_target_ids_in_vars_are_the_targets_names(tmp_path: Path) -> None:
    path = tmp_path / "config.hcl"
    (tmp_path / "impl.py").write_text(HOOKS)
    path.write_text(_config("https://grants.example.com"))
    flow = load_config(path, {"SYMBOX_GRANT_SECRET": "s"}).flows["access"]
    assert flow.vars["auto_target"] == "staging-db"
    assert json.loads(flow.vars["all_targets"]) == ["staging-db", "prod-db"]


async def test_a_hook_compares_the_target_with_a_var_holding_its_id(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(HOOKS)
    async with harness(tmp_path, config_text=_config) as h:
        staging = await h.run(await h.request(target="staging-db"))
        assert staging["status"] == "escalated", staging
        prod = await h.run(await h.request(target="prod-db"))
        assert prod["status"] == "requested"
