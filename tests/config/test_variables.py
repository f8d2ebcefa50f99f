"""Variables from tfvars files, --var, --var-file and the environment, in Terraform's order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symbox.config import ConfigError, VarOption, load_config
from symbox.config.model import Config, Location
from symbox.config.variables import (
    ERROR,
    NOTICE,
    VAR,
    VAR_FILE,
    Layer,
    Supplied,
    auto_var_files,
    conform,
    environment_layers,
    parse_var,
    resolve,
)
from tests.config.helpers import write

# Sources from lowest to highest precedence. Source i sets v_i ... v_last, so v_k's value
# tells which source won among those that set it: always source k.
SOURCES = (
    "default",
    "TF_VAR_",
    "SYMBOX_VAR_",
    "terraform.tfvars",
    "terraform.tfvars.json",
    "a.auto.tfvars",
    "b.auto.tfvars.json",
    "c.auto.tfvars",
    "--var-file first",
    "--var",
    "--var-file second",
    "--var again",
)
NAMES = [f"v{index}" for index in range(len(SOURCES))]


def _target(expression: str) -> str:
    return (
        'resource "sym_target" "t" {\n  type = "custom"\n  name = "t"\n'
        f"  settings = {{ v = {expression} }}\n}}\n"
    )


def _setting(config: Config) -> object:
    return config.targets["t"].settings["v"]


def _load(
    folder: str = "conf", environ: dict[str, str] | None = None, *options: VarOption
) -> Config:
    return load_config(folder, environ or {}, options)


def _problems(
    folder: str = "conf", environ: dict[str, str] | None = None, *options: VarOption
) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(folder, environ or {}, options)
    return [str(problem) for problem in caught.value.problems]


def var(text: str) -> VarOption:
    """A ``--var`` option."""
    return VarOption(VAR, text)


def var_file(path: str) -> VarOption:
    """A ``--var-file`` option."""
    return VarOption(VAR_FILE, path)


def test_every_source_in_terraforms_order_with_symbox_var_above_tf_var(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    declared = "".join(f'variable "{name}" {{ default = "default" }}\n' for name in NAMES)
    write(folder, declared + _target("[" + ", ".join(f"var.{n}" for n in NAMES) + "]"), "main.tf")

    def setting(index: int) -> dict[str, str]:
        return {name: SOURCES[index] for name in NAMES[index:]}

    def hcl(index: int) -> str:
        return "".join(f'{name} = "{value}"\n' for name, value in setting(index).items())

    write(folder, hcl(3), "terraform.tfvars")
    write(folder, json.dumps(setting(4)), "terraform.tfvars.json")
    write(folder, hcl(5), "a.auto.tfvars")
    write(folder, json.dumps(setting(6)), "b.auto.tfvars.json")
    write(folder, hcl(7), "c.auto.tfvars")
    write(in_tmp, hcl(8), "first.tfvars")
    write(in_tmp, hcl(10), "second.tfvars")
    environ = {f"TF_VAR_{n}": SOURCES[1] for n in NAMES[1:]}
    environ |= {f"SYMBOX_VAR_{n}": SOURCES[2] for n in NAMES[2:]}
    options = [var_file("first.tfvars")]
    options += [var(f"{name}=--var") for name in NAMES[9:]]
    options += [var_file("second.tfvars")]
    options += [var(f"{NAMES[11]}=--var again")]

    config = _load("conf", environ, *options)
    assert _setting(config) == SOURCES
    assert config.notices == ()


def test_values_are_typed_per_the_declared_type(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(
        folder,
        'variable "hours" { type = number }\n'
        'variable "on" { type = bool }\n'
        'variable "names" { type = list(string) }\n'
        'variable "tags" { type = map(string) }\n'
        'variable "port" { type = string }\n'
        'variable "count_" { type = number }\n'
        'variable "env_list" { type = list(string) }\n'
        'variable "free" {}\n'
        + _target("[var.hours, var.on, var.names, var.tags, var.port, var.count_, var.env_list, "
                  "var.free]"),
        "main.tf",
    )  # fmt: skip
    write(
        folder,
        'names = ["a", "b"]\ntags = { team = "ops", "cost-centre" = "42" }\n'
        'port = 8080\ncount_ = "3"\nfree = { nested = [1, true] }\n',
        "terraform.tfvars",
    )
    config = _load("conf", {"TF_VAR_on": "true", "TF_VAR_env_list": '["x"]'}, var("hours=1.5"))
    assert _setting(config) == (
        1.5,
        True,
        ("a", "b"),
        {"team": "ops", "cost-centre": "42"},
        "8080",
        3,
        ("x",),
        {"nested": (1, True)},
    )


def test_a_wrong_value_is_reported_where_it_was_given(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(
        folder,
        'variable "n" { type = number }\n'
        'variable "b" { type = bool }\n'
        'variable "l" { type = list(string) }\n' + _target("[var.n, var.b, var.l]"),
        "main.tf",
    )
    write(folder, 'l = "not a list"\n', "terraform.tfvars")
    assert _problems("conf", {"SYMBOX_VAR_b": "yes"}, var("n=many")) == [
        'conf/main.tf:1: --var n: expected a number, got "many"',
        'conf/main.tf:2: SYMBOX_VAR_b: expected true or false, got "yes"',
        'conf/terraform.tfvars:1: variable l: expected a list, got "not a list"',
    ]


def test_undeclared_names(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, 'variable "x" { default = 1 }\n' + _target("var.x"), "main.tf")
    write(folder, "x = 2\n\nother = 3\n", "terraform.tfvars")
    write(folder, '{\n  "x": 4,\n  "stray": 5\n}\n', "z.auto.tfvars.json")
    # A file's stray value is Terraform's warning; the environment holds anything.
    config = _load("conf", {"TF_VAR_unrelated": "1", "SYMBOX_VAR_nope": "1"})
    assert _setting(config) == 4
    assert config.notices == (
        'conf/terraform.tfvars:3: value for undeclared variable other ignored (no variable "other" '
        "block declares it)",
        "conf/z.auto.tfvars.json:3: value for undeclared variable stray ignored (no variable "
        '"stray" block declares it)',
    )
    # A --var for nothing is Terraform's error: most likely a typo.
    assert _problems("conf", {}, var("typo=1")) == [
        '--var typo: no variable "typo" is declared in the config'
    ]


def test_problems_in_tfvars_files(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, 'variable "x" { default = 1 }\n' + _target("var.x"), "main.tf")
    write(folder, "x = var.y\nx = 2\nfoo {}\n", "terraform.tfvars")
    write(folder, "[1, 2]", "terraform.tfvars.json")
    write(folder, "x = ", "a.auto.tfvars")
    write(folder, '{"x": }', "b.auto.tfvars.json")
    assert sorted(_problems("conf", {}, var_file("missing.tfvars"), var("=1"))) == [
        '--var "=1": expected NAME=VALUE',
        "--var-file missing.tfvars: no such file",
        "conf/a.auto.tfvars:1:5: syntax error: unexpected end of line",
        "conf/b.auto.tfvars.json:1: invalid JSON: Expecting value: line 1 column 7 (char 6)",
        "conf/terraform.tfvars.json:1: expected a JSON object of NAME: value",
        "conf/terraform.tfvars:1: values in tfvars files cannot refer to var.y",
        "conf/terraform.tfvars:2: x is set twice in this file (first at conf/terraform.tfvars:1)",
        "conf/terraform.tfvars:3: foo block: a tfvars file holds only NAME = value",
    ]


def test_a_single_file_config_loads_no_tfvars_by_itself(in_tmp: Path) -> None:
    write(in_tmp, 'variable "x" { default = "default" }\n' + _target("var.x"), "config.hcl")
    write(in_tmp, 'x = "file"\n', "terraform.tfvars")
    assert _setting(_load("config.hcl")) == "default"
    assert _setting(_load("config.hcl", {}, var_file("terraform.tfvars"))) == "file"


def test_a_required_variable_set_only_by_a_tfvars_file(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, 'variable "region" {}\n' + _target("var.region"), "main.tf")
    write(folder, 'region = "eu-west-1"\n', "prod.auto.tfvars")
    assert _setting(_load()) == "eu-west-1"


# -- the pure rules ---------------------------------------------------------------------


def test_auto_var_files_are_in_terraforms_order() -> None:
    names = [
        "z.auto.tfvars",
        "main.tf",
        "terraform.tfvars.json",
        "a.auto.tfvars.json",
        ".hidden.auto.tfvars",
        "terraform.tfvars",
        "prod.tfvars",
        "m.auto.tfvars",
    ]
    assert auto_var_files(names) == [
        "terraform.tfvars",
        "terraform.tfvars.json",
        "a.auto.tfvars.json",
        "m.auto.tfvars",
        "z.auto.tfvars",
    ]


def test_environment_layers_put_symbox_var_above_tf_var() -> None:
    low, high = environment_layers({"TF_VAR_a": "tf", "SYMBOX_VAR_a": "sx", "TF_VAR_": "x"})
    assert low.values == {"a": Supplied("TF_VAR_a", text="tf")}
    assert high.values == {"a": Supplied("SYMBOX_VAR_a", text="sx")}
    assert resolve([low, high], {"a"}).values["a"].text == "sx"


def test_resolve_later_layers_win_and_undeclared_names_follow_their_layer() -> None:
    at = Location("t.tfvars", 2)
    first = Layer({"a": Supplied("x", text="1"), "b": Supplied("x", text="1")})
    second = Layer({"a": Supplied("y", at, value=2), "c": Supplied("y", at, value=3)}, NOTICE)
    third = Layer({"d": Supplied("--var d", text="4")}, ERROR)
    result = resolve([first, second, third], {"a", "b"})
    assert result.values == {"a": Supplied("y", at, value=2), "b": Supplied("x", text="1")}
    assert result.notices == [
        't.tfvars:2: value for undeclared variable c ignored (no variable "c" block declares it)'
    ]
    assert [str(problem) for problem in result.problems] == [
        '--var d: no variable "d" is declared in the config'
    ]


def test_parse_var() -> None:
    assert parse_var("a=b=c") == ("a", "b=c")
    assert parse_var("a=") == ("a", "")
    for bad in ("a", "=b", ""):
        with pytest.raises(ValueError, match="expected NAME=VALUE"):
            parse_var(bad)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (1, "string", "1"),
        (True, "string", "true"),
        ("2", "number", 2),
        ("true", "bool", True),
        ([1], "list", [1]),
        ({"a": 1}, "object", {"a": 1}),
        (None, "number", None),
        ({"a": 1}, None, {"a": 1}),
    ],
)
def test_conform_converts_as_terraform_does(value: object, kind: str, expected: object) -> None:
    assert conform(value, kind) == expected


@pytest.mark.parametrize(
    ("value", "kind"),
    [([1], "string"), ("x", "number"), (1, "bool"), ({}, "list"), ([], "map")],
)
def test_conform_refuses_what_cannot_convert(value: object, kind: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        conform(value, kind)


def test_complex_values_on_the_command_line_are_hcl_as_in_terraform(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(
        folder,
        'variable "teams" { type = map(list(string)) }\n'
        'variable "names" { type = set(string) }\n'
        'variable "json" { type = object({ a = number }) }\n'
        + _target("[var.teams, var.names, var.json]"),
        "main.tf",
    )
    config = _load(
        "conf",
        {"TF_VAR_names": '["b", "a", "b"]', "SYMBOX_VAR_json": '{"a": 1}'},
        var('teams={ payments = ["ann@acme.com"], "search-team" = [] }'),
    )
    assert _setting(config) == (
        {"payments": ("ann@acme.com",), "search-team": ()},
        ("a", "b"),
        {"a": 1},
    )


def test_a_complex_value_that_is_not_a_constant_is_refused(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(folder, 'variable "l" { type = list(string) }\n' + _target("var.l"), "main.tf")
    assert _problems("conf", {}, var("l=[1,")) == [
        'conf/main.tf:1: --var l: expected an HCL value, such as ["a", "b"] or { a = 1 }'
    ]
    assert _problems("conf", {}, var("l=[var.other]")) == [
        "conf/main.tf:1: --var l: a value given on the command line cannot refer to var.other"
    ]


def test_a_set_typed_variable_is_a_set_for_for_each(in_tmp: Path) -> None:
    folder = in_tmp / "conf"
    write(
        folder,
        'variable "names" {\n  type    = set(string)\n  default = ["b", "a", "b"]\n}\n'
        'resource "sym_target" "t" {\n  for_each = var.names\n  type     = "custom"\n'
        "  name     = each.key\n}\n",
        "main.tf",
    )
    assert list(_load("conf").targets) == ['t["a"]', 't["b"]']
