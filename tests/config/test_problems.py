"""Every class of configuration problem, each reported as ``file:line: message``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from symbox.config import flows, resources
from symbox.config.schema import IMPLEMENTED
from tests.config.helpers import load, problems

# A valid environment, targets and an http strategy that the snippets below can refer to.
BASE = """\
resource "sym_environment" "e" {
  name = "e"
}
resource "sym_target" "t" {
  type = "custom"
  name = "t"
}
resource "sym_strategy" "s" {
  type     = "http"
  name     = "s"
  targets  = [sym_target.t.id]
  settings = { url = "http://localhost:1/x", signing_secret = env("S") }
}
"""
ENV = {"S": "secret-value"}


def check(snippet: str, *expected: str) -> None:
    """``BASE`` + ``snippet`` (from line 14) is rejected with exactly ``expected``."""
    found = problems(BASE + snippet, ENV)
    assert found == list(expected)
    assert all("secret-value" not in text for text in found)


def flow(params: str) -> str:
    """A flow on line 14 whose params block (line 18) holds ``params``."""
    return (
        'resource "sym_flow" "f" {\n'
        '  name           = "f"\n'
        '  implementation = ""\n'
        "  environment_id = sym_environment.e.id\n"
        "  params {\n" + params + "  }\n}\n"
    )


def test_the_base_is_valid() -> None:
    config = load(BASE, ENV)
    assert config.strategies["s"].targets == ("t",)


def test_terraform_only_blocks_are_notices_and_unknown_blocks_problems() -> None:
    check(
        'data "aws_caller_identity" "me" {}\nmodule "sym" {\n  source = "x"\n}\n'
        'output "x" {\n  value = 1\n}\nfoo = 1\nwidget "w" {}\n',
        "config.hcl:21: unexpected argument foo outside a block",
        "config.hcl:22: unknown block type widget (symbox reads resource, variable and locals)",
    )


def test_unknown_resource_types_and_labels() -> None:
    check(
        'resource "aws_instance" "web" {}\nresource "sym_foo" "x" {}\nresource "sym_flow" {}\n'
        'variable {}\nlocals "x" {}\n',
        "config.hcl:15: unknown resource type sym_foo (known: sym_environment, sym_error_logger, "
        "sym_flow, sym_flows_filter, sym_integration, sym_log_destination, sym_runtime, "
        "sym_secret, sym_secrets, sym_strategy, sym_target)",
        'config.hcl:16: resource block: expected resource "TYPE" "NAME" { ... }',
        'config.hcl:17: variable block: expected variable "NAME" { ... }',
        "config.hcl:18: locals block: expected locals { ... }",
    )


def test_unknown_duplicate_and_missing_arguments() -> None:
    check(
        'resource "sym_integration" "i" {\n  type = "slack"\n  name = "i"\n  name = "j"\n'
        "  colour = 1\n}\n",
        "config.hcl:14: sym_integration.i: missing required argument external_id",
        "config.hcl:17: sym_integration.i: name is set twice (first at line 16)",
        "config.hcl:18: sym_integration.i: unknown argument colour (expected one of: "
        "external_id, label, name, settings, type)",
    )


def test_duplicate_keys_names_locals_and_variables() -> None:
    check(
        'resource "sym_environment" "e" {\n  name = "again"\n}\n'
        'resource "sym_environment" "f" {\n  name = "e"\n}\n'
        "locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\n"
        'variable "v" { default = 1 }\nvariable "v" { default = 2 }\n',
        "config.hcl:14: resource sym_environment.e is defined twice (first at config.hcl:1)",
        'config.hcl:18: sym_environment.f: name "e" is already used by sym_environment.e',
        "config.hcl:24: local value a is defined twice (first at config.hcl:21)",
        "config.hcl:27: variable v is defined twice (first at config.hcl:26)",
    )


def test_wrong_argument_types() -> None:
    check(
        'resource "sym_flow" "f" {\n'
        "  name           = [1]\n"
        "  implementation = true\n"
        "  environment_id = sym_target.t.id\n"
        "  vars           = { a = [1] }\n"
        "}\n"
        'resource "sym_target" "u" {\n'
        '  type           = "custom"\n'
        '  name           = env("S")\n'
        '  settings       = "x"\n'
        "  field_bindings = {}\n"
        "}\n",
        "config.hcl:15: sym_flow.f: name: expected a string",
        "config.hcl:17: sym_flow.f: environment_id: expected a reference to a sym_environment "
        "(sym_environment.NAME.id), got sym_target.t",
        "config.hcl:18: sym_flow.f: vars: expected a map of strings",
        "config.hcl:22: sym_target.u: name: env(S) is a secret: secrets can only be used in "
        "settings",
        'config.hcl:23: sym_target.u: settings: expected a map, e.g. settings = { key = "value" }',
        "config.hcl:24: sym_target.u: field_bindings: expected a list of strings",
    )


def test_references_to_resources_must_exist_and_fit() -> None:
    check(
        'resource "sym_environment" "x" {\n'
        '  name                = "x"\n'
        '  runtime_id          = "sym_runtime.none"\n'
        "  log_destination_ids = [sym_target.t.id]\n"
        '  integrations        = { slack_id = "slack" }\n'
        "}\n",
        "config.hcl:16: sym_environment.x: runtime_id: reference to undefined resource "
        "sym_runtime.none",
        "config.hcl:17: sym_environment.x: log_destination_ids: expected a reference to a "
        "sym_log_destination (sym_log_destination.NAME.id), got sym_target.t",
        "config.hcl:18: sym_environment.x: integrations: expected a reference to a "
        'sym_integration (sym_integration.NAME.id), got "slack", which is neither the key nor '
        "the name of a sym_integration",
    )


def test_unknown_type_names() -> None:
    check(
        'resource "sym_target" "x" {\n  type = "vm"\n  name = "x"\n}\n'
        'resource "sym_integration" "i" {\n  type = "fax"\n  name = "i"\n  external_id = "1"\n}\n'
        'resource "sym_strategy" "y" {\n  type = "magic"\n  name = "y"\n'
        "  targets = [sym_target.t.id]\n}\n"
        'resource "sym_log_destination" "l" {\n  type = "pigeon"\n}\n',
        'config.hcl:15: sym_target.x: type: unknown target type "vm" (known: aptible_role, '
        "aws_iam_group, aws_lambda_function, aws_sso_group, aws_sso_permission_set, custom, "
        "github_repo, google_group, okta_group, onelogin_role, tailscale_group)",
        'config.hcl:19: sym_integration.i: type: unknown integration type "fax" (known: '
        "aptible, aws_lambda, boundary, custom, datadog, github, google, knowbe4, okta, "
        "onelogin, pagerduty, permission_context, segment, slack, smtp, tailscale, "
        "webhook)",
        'config.hcl:24: sym_strategy.y: type: unknown strategy type "magic" (known: aptible, '
        "aws_iam, aws_lambda, aws_sso, custom, github, google_group, http, okta, onelogin, "
        "tailscale)",
        'config.hcl:29: sym_log_destination.l: type: unknown log destination type "pigeon" '
        "(known: datadog, file, http, kinesis_data_stream, kinesis_firehose, segment)",
    )


def test_strategy_targets_must_fit_the_strategy_type() -> None:
    check(
        'resource "sym_target" "g" {\n  type = "okta_group"\n  name = "g"\n'
        '  settings = { group_id = "00g1" }\n}\n'
        'resource "sym_strategy" "x" {\n  type    = "aws_sso"\n  name    = "x"\n'
        "  targets = [sym_target.g.id, sym_target.t.id]\n}\n",
        'config.hcl:22: sym_strategy.x: targets: sym_target.g has type "okta_group", which a '
        "aws_sso strategy cannot grant (expected aws_sso_group, aws_sso_permission_set)",
        'config.hcl:22: sym_strategy.x: targets: sym_target.t has type "custom", which a '
        "aws_sso strategy cannot grant (expected aws_sso_group, aws_sso_permission_set)",
    )


def test_http_strategies_need_a_url_and_a_secret_from_env() -> None:
    check(
        'resource "sym_strategy" "a" {\n  type = "http"\n  name = "a"\n'
        "  targets = [sym_target.t.id]\n}\n"
        'resource "sym_strategy" "b" {\n  type = "http"\n  name = "b"\n'
        "  targets = [sym_target.t.id]\n"
        '  settings = { url = "ftp://x", signing_secret = "plain" }\n}\n',
        "config.hcl:14: sym_strategy.a: settings.url is required for http strategies",
        "config.hcl:14: sym_strategy.a: settings.signing_secret is required for http strategies",
        "config.hcl:23: sym_strategy.b: settings.url: expected an http:// or https:// URL",
        'config.hcl:23: sym_strategy.b: settings.signing_secret: must be read with env("NAME"), '
        "not written in the config",
    )


def test_a_missing_secret_is_reported_once() -> None:
    found = problems(BASE, {})
    assert found == ["config.hcl:12: environment variable S is not set"]


def test_integration_kinds_for_runtimes_and_error_loggers() -> None:
    check(
        'resource "sym_integration" "slack" {\n  type = "slack"\n  name = "slack"\n'
        '  external_id = "T1"\n}\n'
        'resource "sym_runtime" "r" {\n  name = "r"\n  context_id = sym_integration.slack.id\n}\n'
        'resource "sym_integration" "ctx" {\n  type = "permission_context"\n  name = "ctx"\n'
        '  external_id = "1"\n}\n'
        'resource "sym_error_logger" "l" {\n  integration_id = sym_integration.ctx.id\n'
        '  destination = "#errors"\n}\n',
        'config.hcl:21: sym_runtime.r: context_id: sym_integration.slack has type "slack", '
        'expected "permission_context"',
        "config.hcl:29: sym_error_logger.l: integration_id: sym_integration.ctx has type "
        '"permission_context", expected "slack"',
    )


def test_resources_not_implemented_yet() -> None:
    check(
        # Every log destination type is implemented (see the test below); sym_secrets and
        # sym_secret are too: these three raise no problem.
        'resource "sym_log_destination" "k" {\n  type = "http"\n'
        '  settings = { url = "https://siem.example.com/in" }\n}\n'
        'resource "sym_secrets" "aws" {\n  type = "aws_secrets_manager"\n  name = "aws"\n}\n'
        'resource "sym_secret" "one" {\n  path = "p"\n  source_id = sym_secrets.aws.id\n}\n'
        'resource "sym_flows_filter" "ff" {\n  implementation = ""\n}\n',
        "config.hcl:26: sym_flows_filter.ff: sym_flows_filter is not implemented yet in symbox",
    )


def test_a_strategy_type_not_implemented_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every strategy type Sym has is implemented now: take one away to see the refusal.
    fewer = IMPLEMENTED.strategy_types - {"http"}
    monkeypatch.setattr(flows, "IMPLEMENTED", replace(IMPLEMENTED, strategy_types=fewer))
    check(
        'resource "sym_flow" "f" {\n  name = "f"\n  implementation = ""\n'
        "  environment_id = sym_environment.e.id\n  params {\n"
        "    strategy_id = sym_strategy.s.id\n  }\n}\n",
        "config.hcl:19: sym_flow.f: strategy type http is not implemented yet in symbox "
        "(available: aptible, aws_iam, aws_lambda, aws_sso, custom, github, google_group, "
        "okta, onelogin, tailscale)",
    )


def test_a_log_destination_type_not_implemented_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every type Sym has is implemented now: take one away to see the refusal.
    fewer = IMPLEMENTED.log_destination_types - {"http"}
    monkeypatch.setattr(resources, "IMPLEMENTED", replace(IMPLEMENTED, log_destination_types=fewer))
    check(
        'resource "sym_log_destination" "k" {\n  type = "http"\n'
        '  settings = { url = "https://siem.example.com/in" }\n}\n',
        "config.hcl:15: sym_log_destination.k: type: log destination type http is "
        "not implemented yet in symbox (available: datadog, file, kinesis_data_stream, "
        "kinesis_firehose, segment)",
    )


def test_nested_blocks() -> None:
    check(
        'resource "sym_target" "x" {\n  type = "custom"\n  name = "x"\n  params {}\n}\n'
        'resource "sym_flow" "f" {\n  name = "f"\n  implementation = ""\n'
        "  environment_id = sym_environment.e.id\n  params {}\n  params {}\n}\n",
        "config.hcl:17: sym_target.x: unexpected block params",
        "config.hcl:24: sym_flow.f: only one params block is allowed",
    )


def test_params_problems() -> None:
    check(
        flow(
            "    allow_revoke          = false\n"
            "    schedule_deescalation = false\n"
            '    allowed_sources       = ["slack", "email"]\n'
            '    request_ttl           = "1 day"\n'
            "    unknown               = 1\n"
            "    prompt {}\n"
        ),
        "config.hcl:18: sym_flow.f: params: allow_revoke and schedule_deescalation cannot both "
        "be false",
        'config.hcl:21: sym_flow.f: params: allowed_sources: unknown source "email" '
        "(known: api, slack)",
        'config.hcl:22: sym_flow.f: params: request_ttl: invalid duration "1 day": expected a '
        "positive whole number followed by s, m, h, d or mo (e.g. 30s, 10m, 1h, 2d, 1mo)",
        "config.hcl:23: sym_flow.f: params: unknown argument unknown (expected one of: "
        "additional_header_text, allow_duplicate_requests, allow_guest_interaction, "
        "allow_revoke, allowed_sources, approvals, approvals_required, escalate_timeout, "
        "extend_without_approval_up_to, "
        "include_decision_message, max_active_grants_per_user, notify_ids, request_ttl, "
        "schedule_deescalation, strategy_id)",
        "config.hcl:24: sym_flow.f: params: unexpected block prompt",
    )


def test_extend_without_approval_up_to_problems() -> None:
    check(
        flow('    extend_without_approval_up_to = "30m"\n'),
        "config.hcl:19: sym_flow.f: params: extend_without_approval_up_to: only a flow whose "
        "strategy schedules de-escalation has grants to extend",
    )
    check(
        flow('    strategy_id = sym_strategy.s.id\n    extend_without_approval_up_to = "2h"\n'),
        "config.hcl:20: sym_flow.f: params: extend_without_approval_up_to: 2h is longer than "
        'the flow\'s maximum duration 1h (the largest allowed value of its "duration" field)',
    )
    check(
        flow('    strategy_id = sym_strategy.s.id\n    extend_without_approval_up_to = "soon"\n'),
        "config.hcl:20: sym_flow.f: params: extend_without_approval_up_to: invalid duration "
        '"soon": expected a positive whole number followed by s, m, h, d or mo '
        "(e.g. 30s, 10m, 1h, 2d, 1mo)",
    )


def test_escalate_timeout_is_a_duration_of_at_most_a_day() -> None:
    check(
        flow('    strategy_id = sym_strategy.s.id\n    escalate_timeout = "2d"\n'),
        "config.hcl:20: sym_flow.f: params: escalate_timeout: 2d is longer than 1d: an "
        "approved request would wait that long for its grant",
    )
    check(
        flow("    strategy_id = sym_strategy.s.id\n    escalate_timeout = 0\n"),
        "config.hcl:20: sym_flow.f: params: escalate_timeout: invalid duration 0: expected "
        "e.g. 30s, 10m, 1h, 2d or 1mo",
    )


def test_max_active_grants_per_user_is_a_small_whole_number() -> None:
    for value, shown in (("0", "0"), ('"2"', '"2"'), ("1.5", "1.5"), ("true", "true")):
        check(
            flow(f"    max_active_grants_per_user = {value}\n"),
            "config.hcl:19: sym_flow.f: params: max_active_grants_per_user: expected a whole "
            f"number from 1 to 1000, got {shown}",
        )


def test_extend_without_approval_up_to_is_read_in_seconds() -> None:
    config = load(
        BASE
        + flow('    strategy_id = sym_strategy.s.id\n    extend_without_approval_up_to = "30m"\n'),
        ENV,
    )
    params = config.flows["f"].params
    assert params.extend_without_approval_up_to == 1800
    assert config.flows["f"].max_duration == 3600


def test_prompt_field_problems() -> None:
    check(
        flow(
            '    prompt_field "a" {\n      type = "colour"\n    }\n'
            '    prompt_field "b" {\n      type = "int"\n      allowed_values = [1, "two"]\n    }\n'
            '    prompt_field "c" {\n      type = "duration"\n'
            '      allowed_values = ["1h", "1w"]\n    }\n'
            '    prompt_field "d" {\n      type = "int"\n      allowed_values = [1, 2]\n'
            "      default = 3\n    }\n"
            '    prompt_field "e" {\n      type = "bool"\n      default = "yes"\n    }\n'
            '    prompt_field "e" {\n      type = "string"\n    }\n'
            '    prompt_field {\n      type = "string"\n    }\n'
            '    prompt_field "g" {\n      name = "h"\n      type = "string"\n    }\n'
            '    prompt_field "l" {\n      type = "str_list"\n      allowed_values = ["x"]\n'
            '      default = ["x", "y"]\n    }\n'
        ),
        'config.hcl:20: sym_flow.f: prompt_field "a": type: unknown field type "colour" '
        "(known: string, str_list, int, int_list, bool, duration, slack_user, slack_user_list)",
        'config.hcl:24: sym_flow.f: prompt_field "b": allowed_values: expected an integer, '
        'got "two"',
        'config.hcl:28: sym_flow.f: prompt_field "c": allowed_values: invalid duration "1w": '
        "expected a positive whole number followed by s, m, h, d or mo (e.g. 30s, 10m, 1h, "
        "2d, 1mo)",
        'config.hcl:33: sym_flow.f: prompt_field "d": default 3 is not one of allowed_values',
        'config.hcl:37: sym_flow.f: prompt_field "e": default: expected true or false, got "yes"',
        'config.hcl:39: sym_flow.f: prompt field "e" is set twice',
        "config.hcl:42: sym_flow.f: prompt_field: missing required argument name",
        'config.hcl:46: sym_flow.f: prompt_field "g": name "h" differs from the label',
        'config.hcl:52: sym_flow.f: prompt_field "l": default ["x", "y"] is not one of '
        "allowed_values",
    )


def test_prefetch_fills_a_drop_down_of_its_own() -> None:
    check(
        flow(
            '    prompt_field "a" {\n      type = "bool"\n      prefetch = true\n    }\n'
            '    prompt_field "b" {\n      type = "string"\n      allowed_values = ["x"]\n'
            "      prefetch = true\n    }\n"
        ),
        'config.hcl:21: sym_flow.f: prompt_field "a": prefetch: a bool field has no drop-down'
        " to fill (prefetch works for string, int, str_list, int_list)",
        'config.hcl:26: sym_flow.f: prompt_field "b": prefetch: the options come from'
        " allowed_values or from a prefetch reducer, not both",
    )


def test_a_duration_field_must_have_the_duration_type_when_deescalating() -> None:
    check(
        flow(
            "    strategy_id = sym_strategy.s.id\n"
            '    prompt_field "duration" {\n      type = "string"\n    }\n'
        ),
        'config.hcl:20: sym_flow.f: prompt field "duration" must have type duration: the '
        "strategy schedules de-escalation",
    )


VALIDATED = """\
variable "team" {
  default = "%s"
  validation {
    condition     = contains(["prod", "staging"], var.team)
    error_message = "team must be prod or staging, not ${var.team}."
  }
}
variable "size" {
  default = 3
  validation {
    condition     = var.size
    error_message = "never shown"
  }
}
"""


def test_variable_validation_blocks_are_checked_as_terraform_does() -> None:
    check(
        VALIDATED % "dev",
        "config.hcl:17: variable team: invalid value: team must be prod or staging, not dev.",
        "config.hcl:24: variable size: validation: condition must be true or false, got 3",
    )
    valid = (VALIDATED % "prod").replace("condition     = var.size", "condition = var.size > 0")
    # Conditions that hold: the config loads.
    assert load(BASE + valid, ENV).files == ("config.hcl",)


def test_variable_problems() -> None:
    check(
        'variable "v" {\n  default = 1\n  colour = "red"\n  validation {}\n}\nvariable "w" {}\n',
        "config.hcl:16: variable v: unknown argument colour (expected one of: default, "
        "description, nullable, sensitive, type)",
        "config.hcl:17: variable v: validation: missing required argument condition",
        "config.hcl:17: variable v: validation: missing required argument error_message",
        "config.hcl:19: variable w has no default and no value was given: set it with "
        "--var w=VALUE, in a --var-file, terraform.tfvars(.json) or *.auto.tfvars(.json) file "
        "(w = ...), or with the environment variable TF_VAR_w or SYMBOX_VAR_w",
    )


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        BASE
        + 'provider "sym" {}\n'
        + 'data "x" "y" {}\n'
        + 'resource "sym_flow" "f" {\n'
        + '  name           = "f"\n'
        + '  implementation = file("gone.py")\n'
        + "  environment_id = sym_environment.nope.id\n"
        + "  vars           = { a = var.missing }\n"
        + "  params {\n"
        + '    allowed_sources = ["fax"]\n'
        + "  }\n"
        + "}\n"
        + 'resource "sym_target" "u" {\n  type = "custom"\n}\n',
        ENV,
    )
    assert found == [
        'config.hcl:18: file("gone.py"): no such file gone.py',
        "config.hcl:19: reference to undefined resource sym_environment.nope",
        "config.hcl:20: undefined variable var.missing",
        'config.hcl:22: sym_flow.f: params: allowed_sources: unknown source "fax" '
        "(known: api, slack)",
        "config.hcl:25: sym_target.u: missing required argument name",
    ]
