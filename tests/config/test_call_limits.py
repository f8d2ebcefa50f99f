"""Strategy call limits: checked at load with file:line, defaults by strategy type."""

from __future__ import annotations

import pytest

from symbox.config.call_limits import DEFAULT_LIMITS, CallLimits, limits_of
from tests.config.helpers import load
from tests.config.test_problems import BASE, ENV, check

OKTA = """\
resource "sym_integration" "okta" {
  type        = "okta"
  name        = "okta"
  external_id = "example.okta.com"
  settings    = { api_token = env("S") }
}
resource "sym_target" "g" {
  type     = "okta_group"
  name     = "g"
  settings = { group_id = "00g1" }
}
resource "sym_strategy" "okta" {
  type           = "okta"
  name           = "okta"
  targets        = [sym_target.g.id]
  integration_id = sym_integration.okta.id
  %s
}
"""


def http(settings: str) -> str:
    """An http strategy on line 14 whose settings (line 18) add ``settings``."""
    return (
        'resource "sym_strategy" "h" {\n  type    = "http"\n  name    = "h"\n'
        "  targets = [sym_target.t.id]\n"
        f'  settings = {{ url = "http://localhost:1/x", signing_secret = env("S"), {settings} }}\n'
        "}\n"
    )


def test_limits_must_be_positive_numbers() -> None:
    check(
        http('max_calls_per_second = 0, max_concurrency = "four"'),
        "config.hcl:18: sym_strategy.h: settings.max_calls_per_second: 0: expected a "
        "positive number",
        'config.hcl:18: sym_strategy.h: settings.max_concurrency: "four": expected a positive '
        "whole number",
    )
    check(
        http("max_calls_per_second = true, max_concurrency = 2.5"),
        "config.hcl:18: sym_strategy.h: settings.max_calls_per_second: true: expected a "
        "positive number",
        "config.hcl:18: sym_strategy.h: settings.max_concurrency: 2.5: expected a positive "
        "whole number",
    )


def test_settings_override_the_types_defaults() -> None:
    config = load(BASE + http("max_calls_per_second = 20, max_concurrency = 4"), ENV)
    assert limits_of(config.strategies["h"]) == CallLimits(20, 1.0, 4)
    # Without settings, an http receiver (the operator's own) is not bounded.
    assert limits_of(config.strategies["s"]) == CallLimits()


def test_api_strategies_take_limits_and_keep_their_defaults_otherwise() -> None:
    limited = load(OKTA % "settings = { max_calls_per_second = 0.5 }", ENV)
    # Below one a second: one call per so many seconds, at the type's concurrency.
    assert limits_of(limited.strategies["okta"]) == CallLimits(1, 2.0, 4)
    plain = load(OKTA % "", ENV)
    assert limits_of(plain.strategies["okta"]) == DEFAULT_LIMITS["okta"]
    check(
        OKTA % 'settings = { max_concurrency = 0, color = "red" }',
        "config.hcl:30: sym_strategy.okta: settings.color: unknown setting for okta",
        "config.hcl:30: sym_strategy.okta: settings.max_concurrency: 0: expected a positive "
        "whole number",
    )


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(20, CallLimits(20, 1.0)), (2.5, CallLimits(2, 0.8)), (0.25, CallLimits(1, 4.0))],
)
def test_a_rate_becomes_whole_calls_per_window(rate: float, expected: CallLimits) -> None:
    assert CallLimits.per_second(rate, None) == expected


def test_every_strategy_type_has_defaults() -> None:
    from symbox.config.schema import STRATEGY_TARGET_TYPES

    assert set(DEFAULT_LIMITS) == set(STRATEGY_TARGET_TYPES)
    assert DEFAULT_LIMITS["github"] == CallLimits(80, 60.0, 1)
