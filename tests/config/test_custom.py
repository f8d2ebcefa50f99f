"""Custom strategies and custom integrations in config.hcl: what is accepted and refused."""

from __future__ import annotations

from pathlib import Path

from symbox.config.hosts import AllowList, hook_allow_list
from tests.config.helpers import load, problems

ENV = {"API_KEY": "key-value-9f1"}

BASE = """\
resource "sym_environment" "e" {
  name         = "e"
  integrations = { custom_id = sym_integration.api.id }
}
resource "sym_target" "t" {
  type     = "custom"
  name     = "t"
  settings = { identifier = "db" }
}
resource "sym_integration" "api" {
  type        = "custom"
  name        = "api"
  external_id = "acme"
  settings = {
    allowed_hosts = %s
    secrets       = %s
  }
}
resource "sym_strategy" "s" {
  type           = "custom"
  name           = "s"
  targets        = [sym_target.t.id]
%s}
"""
STRATEGY_ARGS = (
    '  implementation = file("strategy.py")\n  integration_id = sym_integration.api.id\n'
)


def text(
    hosts: str = '["api.example.com", "*.corp.example.com:8443", "127.0.0.1"]',
    secrets: str = '[env("API_KEY")]',
    strategy: str = STRATEGY_ARGS,
) -> str:
    Path("strategy.py").write_text("# the implementation\n")
    return BASE % (hosts, secrets, strategy)


def test_a_bare_implementation_path_is_read_as_sym_reads_it(tmp_path: Path) -> None:
    as_path = '  implementation = "strategy.py"\n' + STRATEGY_ARGS.split("\n")[1] + "\n"
    strategy = load(text(strategy=as_path), ENV).strategies["s"]
    assert strategy.implementation == "# the implementation\n"
    assert strategy.implementation_path == "strategy.py"
    module_path = '  implementation = "${path.module}/strategy.py"\n'
    module_path += STRATEGY_ARGS.split("\n")[1] + "\n"
    assert load(text(strategy=module_path), ENV).strategies["s"].implementation_path == (
        "strategy.py"
    )


def test_a_custom_strategy_reads_its_file_and_integration(tmp_path: Path) -> None:
    config = load(text(), ENV)
    strategy = config.strategies["s"]
    assert strategy.implementation == "# the implementation\n"
    assert strategy.implementation_path == "strategy.py"
    assert strategy.integration == "api"
    secrets = config.integrations["api"].settings["secrets"]
    assert [secret.reveal() for secret in secrets] == ["key-value-9f1"]
    allowed = hook_allow_list(config, "e")
    assert allowed.allows("api.example.com", 443)
    assert allowed.allows("db.corp.example.com", 8443)
    assert not allowed.allows("corp.example.com", 8443)
    assert not allowed.allows("db.corp.example.com", 443)
    assert allowed.allows("127.0.0.1", 9999)
    assert not allowed.allows("evil.example.com", 443)


def test_allow_list_entries_are_checked() -> None:
    assert not AllowList()
    found = problems(text(hosts='["https://api.example.com", "api:0", "*.*.x"]'), ENV)
    assert found == [
        "config.hcl:14: sym_integration.api: settings.allowed_hosts: 'https://api.example.com': "
        "expected a host such as api.example.com or host:port",
        "config.hcl:14: sym_integration.api: settings.allowed_hosts: 'api:0': the port must "
        "be a number from 1 to 65535",
        "config.hcl:14: sym_integration.api: settings.allowed_hosts: '*.*.x': a wildcard must "
        "be written *.example.com",
    ]


def test_secrets_come_from_env_or_from_sym_secret_resources() -> None:
    assert problems(text(secrets='["written-in-the-config"]'), ENV) == [
        'config.hcl:14: sym_integration.api: settings.secrets: expected a list of env("NAME") '
        "secrets"
    ]
    sym_style = text().replace(
        "secrets       =", "secret_ids_json = jsonencode([sym_secret.nope.id])\n    other ="
    )
    found = problems(sym_style, ENV)
    assert found == ["config.hcl:16: reference to undefined resource sym_secret.nope"]
    assert all("key-value-9f1" not in problem for problem in found)
    garbled = text().replace("secrets       =", 'secret_ids_json = "not json"\n    other =')
    assert problems(garbled, ENV) == [
        "config.hcl:14: sym_integration.api: settings.secret_ids_json: "
        "expected jsonencode([sym_secret.NAME.id, ...])"
    ]
    forged = text().replace(
        "secrets       =", 'secret_ids_json = "[\\"sym_secret.nope\\"]"\n    other ='
    )
    assert problems(forged, ENV) == [
        "config.hcl:14: sym_integration.api: settings.secret_ids_json: no resource sym_secret.nope"
    ]
    both = text().replace("secrets       =", 'secret_ids_json = "[]"\n    secrets =')
    assert problems(both, ENV) == [
        "config.hcl:14: sym_integration.api: settings: use secrets or secret_ids_json, not both"
    ]


def test_custom_strategies_need_an_implementation_file_and_a_custom_integration() -> None:
    assert problems(text(strategy="  integration_id = sym_integration.api.id\n"), ENV) == [
        'config.hcl:19: sym_strategy.s: custom strategies need implementation = file("strategy.py")'
    ]
    assert problems(text(strategy='  implementation = file("strategy.py")\n'), ENV) == [
        "config.hcl:19: sym_strategy.s: custom strategies need integration_id "
        "(a custom sym_integration)"
    ]
    # Sym's provider also takes a path: symbox reads the file it names.
    missing = '  implementation = "missing.py"\n' + STRATEGY_ARGS.split("\n")[1]
    assert problems(text(strategy=missing + "\n"), ENV) == [
        "config.hcl:23: sym_strategy.s: implementation: cannot read missing.py: "
        "No such file or directory"
    ]
    okta = text().replace('type        = "custom"', 'type        = "okta"')
    assert problems(okta, ENV) == [
        'config.hcl:24: sym_strategy.s: integration_id: sym_integration.api has type "okta", '
        'expected "custom"'
    ]
