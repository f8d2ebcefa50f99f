"""Flows in Sym's provider 1.x shape: template, and params as a map with _json lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.config import ConfigError, load_config
from tests.config.helpers import write

V1 = """\
resource "sym_environment" "this" { name = "main" }

resource "sym_target" "admins" {
  type     = "custom"
  name     = "admins"
  settings = { identifier = "a" }
}

resource "sym_strategy" "this" {
  type     = "http"
  name     = "s"
  targets  = [sym_target.admins.id]
  settings = { url = "https://grants.example.com", signing_secret = env("S") }
}

resource "sym_flow" "this" {
  name           = "okta_access"
  label          = "Okta Access"
  template       = "sym:template:approval:1.0.0"
  implementation = "# no hooks"
  environment_id = sym_environment.this.id
  vars           = { approvers = "ann@example.com" }

  params = {
    strategy_id          = sym_strategy.this.id
    allow_revoke         = "false"
    allowed_sources_json = jsonencode(["api"])
    prompt_fields_json = jsonencode([
      { name = "reason", label = "Why?", type = "string", required = true },
      { name = "duration", type = "duration", allowed_values = ["30m", "1h"], required = true },
    ])
  }
}
"""


def _problems() -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(".", {"S": "x"})
    return [str(problem) for problem in caught.value.problems]


def test_a_v1_flow_reads_as_its_params_block(in_tmp: Path) -> None:
    write(in_tmp, V1, "main.tf")
    config = load_config(".", {"S": "x"})
    params = config.flows["this"].params
    assert params.strategy == "this"
    assert params.allow_revoke is False
    assert params.allowed_sources == ("api",)
    fields = {field.name: field for field in params.prompt_fields}
    assert fields["reason"].label == "Why?" and fields["reason"].required
    assert fields["duration"].allowed_values == (1800, 3600)
    assert config.notices == (
        "./main.tf:19: sym_flow.this: template ignored: every symbox flow is an approval flow "
        "(Sym's provider 1.x named it)",
    )


def test_v1_problems_name_the_flow(in_tmp: Path) -> None:
    text = (
        V1.replace("sym:template:approval:1.0.0", "sym:template:custom:1.0.0")
        .replace('allowed_sources_json = jsonencode(["api"])', 'allowed_sources_json = "[api"')
        .replace("  }\n}\n", "  }\n  params {}\n}\n")
    )
    write(in_tmp, text, "main.tf")
    problems = _problems()
    assert problems[0] == (
        './main.tf:19: sym_flow.this: template: "sym:template:custom:1.0.0" is not Sym\'s '
        "approval template, the only one symbox runs"
    )
    assert problems[1] == "./main.tf:24: sym_flow.this: params is set both as a map and as a block"
