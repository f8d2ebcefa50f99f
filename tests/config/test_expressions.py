"""Expressions: literals, templates, references, functions and arithmetic, with their errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from symbox.config.functions import supported
from symbox.config.model import Secret
from tests.config.helpers import SETTING, problems, setting, write


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ('"plain"', "plain"),
        ("42", 42),
        ("-7", -7),
        ("1.5", 1.5),
        ("1.5e3", 1500),
        ("true", True),
        ("false", False),
        ('[1, "a", true]', (1, "a", True)),
        ('{ a = 1, "b" = [2], c: { d = "e" } }', {"a": 1, "b": (2,), "c": {"d": "e"}}),
        ('"tab\\tquote\\"unicode\\u00e9"', 'tab\tquote"unicodeé'),
        ('"$${not_interpolated}"', "${not_interpolated}"),
        ('"${1 + 2} items"', "3 items"),
        ('"${true}/${1.5}"', "true/1.5"),
        ("3600 * 4", 14400),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("8 / 2", 4),
        ("7 % 4", 3),
        ("2 > 1 && !false", True),
        ('1 == 2 || "a" != "b"', True),
        ('2 >= 3 ? "yes" : "no"', "no"),
        ("[10, 20, 30][1]", 20),
        ('{ k = "v" }["k"]', "v"),
        ("{ k = { n = 3 } }.k.n", 3),
        ("[for x in [1] : x]", (1,)),
        ('"%{ if true }x%{ endif }"', "x"),
    ],
)
def test_literals_and_operators(expression: str, value: Any) -> None:
    assert setting(expression) == value


def test_null_settings_are_left_out() -> None:
    config_value = setting("{ a = null, b = 1 }")
    assert config_value == {"b": 1}


def test_heredoc_with_interpolation_and_trim() -> None:
    prefix = 'locals {\n  who = "world"\n}\n'
    value = setting("<<-EOT\n    hello ${local.who}\n      indented $${x}\n    EOT\n", prefix)
    assert value == "hello world\n  indented ${x}\n"


def test_variables_locals_and_references() -> None:
    prefix = """\
        variable "team" {
          type    = string
          default = "ops"
        }
        variable "hours" {
          type    = number
          default = 4
        }
        locals {
          greeting = "hi ${var.team}"
        }
        locals {
          both = [local.greeting, var.hours * 3600, sym_target.other.name, sym_target.other.id]
        }
        resource "sym_target" "other" {
          type = "custom"
          name = "other-${var.team}"
        }
        """
    assert setting("local.both", prefix) == ("hi ops", 14400, "other-ops", "sym_target.other")


def test_variables_are_overridden_from_the_environment() -> None:
    prefix = """\
        variable "team" { default = "ops" }
        variable "hours" {
          type    = number
          default = 4
        }
        variable "on" {
          type    = bool
          default = false
        }
        variable "names" {
          type    = list(string)
          default = []
        }
        """
    environ = {
        "SYMBOX_VAR_team": "dev",
        "SYMBOX_VAR_hours": "2",
        "SYMBOX_VAR_on": "true",
        "SYMBOX_VAR_names": '["a", "b"]',
    }
    value = setting("[var.team, var.hours, var.on, var.names]", prefix, environ)
    assert value == ("dev", 2, True, ("a", "b"))


def test_variable_without_default_takes_the_environment() -> None:
    prefix = 'variable "team" {}\n'
    assert setting("var.team", prefix, {"SYMBOX_VAR_team": "x"}) == "x"


def test_jsonencode_is_compact_and_sorted() -> None:
    value = setting('jsonencode({ b = [1, "x"], a = true, c = null })')
    assert value == '{"a":true,"b":[1,"x"],"c":null}'
    assert json.loads(value) == {"a": True, "b": [1, "x"], "c": None}


def test_env_returns_a_secret_that_never_prints() -> None:
    value = setting('env("TOKEN")', environ={"TOKEN": "hunter2"})
    assert isinstance(value, Secret)
    assert value.reveal() == "hunter2"
    assert value.source == "env(TOKEN)"
    assert "hunter2" not in repr(value) and "hunter2" not in str(value)


def test_a_lone_interpolation_keeps_the_value() -> None:
    value = setting('"${env("TOKEN")}"', environ={"TOKEN": "hunter2"})
    assert isinstance(value, Secret)
    assert setting('"${[1, 2]}"') == (1, 2)


def test_file_reads_relative_to_the_config_folder(in_tmp: Path) -> None:
    (in_tmp / "data.txt").write_text("contents\n", encoding="utf-8")
    assert setting('file("data.txt")') == "contents\n"
    assert setting('file("${path.module}/data.txt")') == "contents\n"


def test_path_module_is_the_folder_of_the_file(in_tmp: Path) -> None:
    assert setting("path.module") == str(in_tmp)


SUPPORTED = ", ".join(supported()) + ")"


def _problems(
    expression: str, prefix: str = "", environ: Mapping[str, str] | None = None
) -> list[str]:
    return problems(prefix + SETTING % expression, environ)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("var.nope", "config.hcl:4: undefined variable var.nope"),
        ("local.nope", "config.hcl:4: undefined local value local.nope"),
        ("sym_target.nope.id", "config.hcl:4: reference to undefined resource sym_target.nope"),
        ("sym_flow.nope.id", "config.hcl:4: reference to undefined resource sym_flow.nope"),
        ("sym_target.t[0]", "config.hcl:4: sym_target.t: use sym_target.t.id to refer to it"),
        ("aws_instance.web.id", "config.hcl:4: unknown reference aws_instance.web.id"),
        (
            "each.key",
            "config.hcl:4: unknown reference each.key: "
            "each.key and each.value are only set in a resource with for_each",
        ),
        ("path.cwd", "config.hcl:4: unknown reference path.cwd"),
        ("sym_target.t.bogus", "config.hcl:4: sym_target.t has no attribute bogus"),
        ('env("MISSING")', "config.hcl:4: environment variable MISSING is not set"),
        ('env("EMPTY")', "config.hcl:4: environment variable EMPTY is empty"),
        (
            '"Bearer ${env("TOKEN")}"',
            "config.hcl:4: env(TOKEN) is a secret: use it as a whole value, not inside a string",
        ),
        (
            'jsonencode({ t = env("TOKEN") })',
            "config.hcl:4: jsonencode(): env(TOKEN) is a secret: use it as a whole value, "
            "not inside a string",
        ),
        ('file("missing.txt")', 'config.hcl:4: file("missing.txt"): no such file missing.txt'),
        ('nosuch("x")', "config.hcl:4: unknown function nosuch() (symbox supports " + SUPPORTED),
        ("file()", "config.hcl:4: file() takes exactly one argument"),
        ("env(1)", "config.hcl:4: env() expects a string"),
        ('"a" + 1', "config.hcl:4: + needs numbers on both sides"),
        ("1 / 0", "config.hcl:4: division by zero"),
        ('"${null}x"', "config.hcl:4: cannot interpolate null into a string"),
        ('"${[1]}x"', "config.hcl:4: cannot interpolate a list into a string"),
        ("[for x in 1 : x]", "config.hcl:4: for needs a list or map, not a number"),
        ('"%{ if 1 }x%{ endif }"', "config.hcl:4: the %{if} condition must be true or false"),
        ("{ a = 1, a = 2 }", 'config.hcl:4: duplicate key "a" in map'),
        ("[1, 2][5]", "config.hcl:4: value: index 5 out of range"),
        ('1 ? "a" : "b"', "config.hcl:4: the condition before ? must be true or false"),
    ],
)
def test_expression_problems(expression: str, message: str) -> None:
    environ = {"TOKEN": "hunter2", "EMPTY": ""}
    found = _problems(expression, environ=environ)
    assert found == [message]
    assert all("hunter2" not in text for text in found)


def test_local_cycle_is_reported() -> None:
    prefix = "locals {\n  a = local.b\n  b = local.a\n}\n"
    assert _problems("local.a", prefix) == [
        "config.hcl:3: cycle in references: local.a -> local.b -> local.a"
    ]


def test_variable_default_cannot_refer_to_others() -> None:
    prefix = 'variable "a" { default = "x" }\nvariable "b" { default = var.a }\n'
    assert _problems("var.b", prefix) == ["config.hcl:2: variable defaults cannot refer to var.a"]


def test_bad_variable_overrides() -> None:
    prefix = (
        'variable "n" {\n  type = number\n  default = 1\n}\n'
        'variable "b" {\n  type = bool\n  default = true\n}\n'
    )
    environ = {"SYMBOX_VAR_n": "many", "SYMBOX_VAR_b": "yes"}
    assert _problems("[var.n, var.b]", prefix, environ) == [
        'config.hcl:1: SYMBOX_VAR_n: expected a number, got "many"',
        'config.hcl:5: SYMBOX_VAR_b: expected true or false, got "yes"',
    ]


def test_problems_inside_a_heredoc_name_their_own_line() -> None:
    expression = "<<EOT\nline one\nline two ${var.nope}\nEOT\n"
    assert _problems(expression) == ["config.hcl:6: undefined variable var.nope"]


def test_an_error_in_a_local_is_reported_once(in_tmp: Path) -> None:
    text = "locals {\n  broken = var.nope\n}\n" + SETTING % "[local.broken, local.broken]"
    write(in_tmp, text)
    assert problems(text) == ["config.hcl:2: undefined variable var.nope"]


def test_a_syntax_error_inside_a_heredoc_interpolation() -> None:
    assert _problems("<<EOT\nok\n${1 +}\nEOT\n") == [
        "config.hcl:6: syntax error: unexpected end of ${...}"
    ]
