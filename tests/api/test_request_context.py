"""The context sent with a request: kept with the run, read by hooks as in Sym."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_hooks import hooked_config
from tests.harness import harness

pytestmark = pytest.mark.anyio

HOOKS = """
from sym.sdk.exceptions import SymException
from sym.sdk.templates import ApprovalTemplate


def on_request(event):
    context = event.get_context("request")
    if context is not None and context.get("ci_job") == "deploy-42":
        return ApprovalTemplate.approve(reason="CI deploy " + context["ci_job"])
    return None


def on_deescalate(event):
    raise SymException("context at revoke: " + str(dict(event.get_context("request"))))
"""


@pytest.fixture
def hooks(tmp_path: Path) -> Path:
    (tmp_path / "impl.py").write_text(HOOKS)
    return tmp_path


def _body(context: object) -> dict[str, object]:
    inputs = {"reason": "incident", "duration": "10m", "target": "prod-db"}
    return {"flow": "access", "flow_inputs": inputs, "context": context}


async def test_a_hook_decides_on_the_request_s_context(hooks: Path) -> None:
    async with harness(hooks, config_text=hooked_config) as h:
        sent = await h.call(
            "POST", "/api/v1/events/request", "carol@example.com", _body({"ci_job": "deploy-42"})
        )
        assert sent.status_code == 201, sent.text
        run = await h.run(sent.json()["run_id"])
        assert run["status"] == "escalated", run
        plain = await h.request()
        assert (await h.run(plain))["status"] == "requested"


async def test_a_later_hook_reads_the_context_kept_with_the_run(hooks: Path) -> None:
    async with harness(hooks, config_text=hooked_config) as h:
        sent = await h.call(
            "POST", "/api/v1/events/request", "carol@example.com", _body({"ci_job": "deploy-42"})
        )
        run_id = sent.json()["run_id"]
        await h.advance(600)
        ended = await h.wait_status(run_id, "deescalated")
        assert "context at revoke: {'ci_job': 'deploy-42'}" in ended["errors"][-1]


async def test_a_context_that_is_not_an_object_or_too_big_is_refused(hooks: Path) -> None:
    async with harness(hooks, config_text=hooked_config) as h:
        for context, message in (
            (["x"], "context: expected an object"),
            ({"blob": "x" * 20_000}, "context: at most 16384 bytes of JSON"),
        ):
            sent = await h.call(
                "POST", "/api/v1/events/request", "carol@example.com", _body(context)
            )
            assert sent.status_code == 400, sent.text
            assert sent.json()["message"] == message
