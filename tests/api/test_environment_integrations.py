"""event.flow.environment.integrations: Sym's integration objects by name, secrets as handles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_hooks import hooked_config
from tests.harness import harness

pytestmark = pytest.mark.anyio

TOKEN = "circle-token-123"
OKTA_TOKEN = "okta-token-456"

INTEGRATIONS = """
resource "sym_integration" "circleci" {
  type        = "custom"
  name        = "circleci"
  external_id = "acme"
  settings = {
    api_key = env("CIRCLE_TOKEN")
    org     = "acme"
  }
}

resource "sym_integration" "okta" {
  type        = "okta"
  name        = "okta"
  external_id = "acme.okta.com"
  settings = {
    api_token = env("OKTA_TOKEN")
  }
}

resource "sym_environment" "main" {
  name = "main"
  integrations = {
    circleci_id = sym_integration.circleci.id
    okta_id     = sym_integration.okta.id
  }
}
"""

HOOKS = """
from sym.sdk.exceptions import SymException
from sym.sdk.templates import ApprovalTemplate


def on_request(event):
    integrations = event.flow.environment.integrations
    circleci = integrations["circleci"]
    reason = event.payload.fields["reason"]
    if reason == "describe":
        okta = integrations["okta"]
        raise SymException(str([
            sorted(integrations.keys()), circleci.name, circleci.type, circleci.external_id,
            circleci.settings["org"], okta.external_id, str(okta.settings["api_token"]),
            hasattr(okta.settings["api_token"], "retrieve_value"),
        ]))
    if reason == "leak":
        raise SymException("the key is " + circleci.settings["api_key"].retrieve_value())
    if circleci.settings["api_key"].retrieve_value() == "TOKEN":
        return ApprovalTemplate.approve(reason="the CI key checks out")
    return None
""".replace("TOKEN", TOKEN)


def _config(receiver_url: str) -> str:
    text = hooked_config(receiver_url)
    return text.replace('resource "sym_environment" "main" {\n  name = "main"\n}\n', INTEGRATIONS)


@pytest.fixture
def hooks(tmp_path: Path) -> Path:
    (tmp_path / "impl.py").write_text(HOOKS)
    return tmp_path


ENV = {"CIRCLE_TOKEN": TOKEN, "OKTA_TOKEN": OKTA_TOKEN}


async def test_a_hook_reads_a_custom_integration_s_secret_through_its_handle(hooks: Path) -> None:
    async with harness(hooks, config_text=_config, monkeypatch_env=ENV) as h:
        run = await h.run(await h.request(reason="deploy"))
        assert run["status"] == "escalated", run
        assert run["decisions"][0]["reason"] == "the CI key checks out"


async def test_integrations_by_name_and_other_types_tokens_redacted(hooks: Path) -> None:
    async with harness(hooks, config_text=_config, monkeypatch_env=ENV) as h:
        run = await h.run(await h.request(reason="describe"))
        assert run["status"] == "errored"
        shown = str(
            [["circleci", "okta"], "circleci", "custom", "acme", "acme", "acme.okta.com",
             "[redacted]", False]
        )  # fmt: skip
        assert shown in run["error"], run["error"]
        assert OKTA_TOKEN not in str(run)


async def test_a_secret_a_hook_puts_in_its_error_is_scrubbed(hooks: Path) -> None:
    async with harness(hooks, config_text=_config, monkeypatch_env=ENV) as h:
        run = await h.run(await h.request(reason="leak"))
        assert run["status"] == "errored"
        assert "the key is <redacted>" in run["error"]
        assert TOKEN not in str(run)
    audit = "".join(path.read_text() for path in (hooks / "data").rglob("*.jsonl"))
    assert "hook_error" in audit
    assert TOKEN not in audit
