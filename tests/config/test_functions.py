"""Terraform's functions, for expressions, splats, conditionals and templates, as loaded.

Expected values are the examples of Terraform's own documentation where it has them.
Lists come back as tuples, as settings are frozen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.config.helpers import SETTING, problems, setting

LOCALS = """\
locals {
  m      = { a = 1 }
  users  = [{ name = "a", tags = ["x"] }, { name = "b", tags = ["y"] }]
  groups = [{ members = [{ id = 1 }, { id = 2 }] }, { members = [{ id = 3 }] }]
  single = "x"
  none   = null
}
"""
# SETTING's `v = ...` is on the fourth line of its own text, after LOCALS' seven.
LINE = 11


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        # format and formatlist
        ('format("Hello, %s!", "Ander")', "Hello, Ander!"),
        ('format("There are %d lights", 4)', "There are 4 lights"),
        ('format("%#v", "hello")', '"hello"'),
        ('format("%#v", true)', "true"),
        ('format("%#v", 1)', "1"),
        ('format("%#v", { a = 1 })', '{"a":1}'),
        ('format("%#v", [true])', "[true]"),
        ('format("%#v", null)', "null"),
        ('format("%v|%v|%v|%v", "s", 1.5, true, ["l"])', 's|1.5|true|["l"]'),
        (
            'format("%f|%9f|%.2f|%9.2f", 3.14159, 1.5, 3.14159, 3.14159)',
            "3.141590| 1.500000|3.14|     3.14",
        ),
        ('format("[%5s][%-5s][%.2s]", "ab", "ab", "abc")', "[   ab][ab   ][ab]"),
        ('format("%05d|%+d|% d|%-4d|", 42, 5, 5, 7)', "00042|+5| 5|7   |"),
        ('format("%b %o %x %X %#x", 5, 8, 255, 255, 255)', "101 10 ff FF 0xff"),
        ('format("%e|%g|%g|%G", 1234.5678, 0.5, 1000000, 1e-7)', "1.234568e+03|0.5|1e+06|1E-07"),
        ('format("%q|%t|100%%", "say \\"hi\\"", "true")', '"say \\"hi\\""|true|100%'),
        ('format("%[2]s %[1]s %s", "a", "b")', "b a b"),
        ('format("%d items", "12")', "12 items"),
        (
            'formatlist("Hello, %s!", ["Valentina", "Ander", "Olivia", "Sam"])',
            ("Hello, Valentina!", "Hello, Ander!", "Hello, Olivia!", "Hello, Sam!"),
        ),
        (
            'formatlist("%s, %s!", "Salutations", ["Valentina", "Ander"])',
            ("Salutations, Valentina!", "Salutations, Ander!"),
        ),
        # strings
        ('join("-", ["foo", "bar", "baz"])', "foo-bar-baz"),
        ('join(", ", ["foo"])', "foo"),
        ('join(",", ["a"], [1, true])', "a,1,true"),
        ('split(",", "foo,bar,baz")', ("foo", "bar", "baz")),
        ('split(",", "foo")', ("foo",)),
        ('split(",", "")', ("",)),
        ('title("hello world")', "Hello World"),
        ('title("o\'neil and mcdonald-smith x_y")', "O'Neil And Mcdonald-Smith X_y"),
        ('lower("HELLO")', "hello"),
        ('lower("АЛЛО!")', "алло!"),
        ('upper("hello")', "HELLO"),
        ('upper("алло!")', "АЛЛО!"),
        ('upper("straße")', "STRAßE"),
        ('replace("1 + 2 + 3", "+", "-")', "1 - 2 - 3"),
        ('regex("^#.+", "#sym-errors")', "#sym-errors"),
        ('regex("^#(.+)-(.+)$", "#sym-errors")', ("sym", "errors")),
        ('regex("(?P<team>[a-z]+)-(?P<kind>[a-z]+)", "ops-db")', {"team": "ops", "kind": "db"}),
        ('regexall("[0-9]", "a1b22")', ("1", "2", "2")),
        ('regexall("x", "abc")', ()),
        ('can(regex("^#", "sym-errors"))', False),
        ('replace("hello world", "/w.*d/", "everybody")', "hello everybody"),
        ('replace("John Doe", "/(\\\\w+) (\\\\w+)/", "$2, $1")', "Doe, John"),
        ('replace("a-b", "/(?P<first>\\\\w)-/", "$${first}+$$")', "a+$b"),
        ('replace("ab12", "/[[:digit:]]+$/", "#")', "ab#"),
        ('replace("abc", "/x*/", "-")', "-a-b-c-"),
        ('replace("/", "/", "|")', "|"),
        ('trimspace("  hello\\n\\n")', "hello"),
        # JSON
        ('jsonencode({ "hello" = "world" })', '{"hello":"world"}'),
        (
            'jsonencode({ b = [1, 1.5, 1e16], a = "<&>" })',
            '{"a":"\\u003c\\u0026\\u003e","b":[1,1.5,10000000000000000]}',
        ),
        ('jsondecode("{\\"hello\\": \\"world\\"}")', {"hello": "world"}),
        ('jsondecode("true")', True),
        ('jsondecode("[1, 2.0, 2.5]")', (1, 2, 2.5)),
        # collections
        ('coalesce("a", "b")', "a"),
        ('coalesce("", "b")', "b"),
        ("coalesce(1, 2)", 1),
        ('coalesce(["", "b"]...)', "b"),
        ('coalesce(1, "hello")', "1"),
        ('coalesce(true, "hello")', "true"),
        ('coalesce(null, "x")', "x"),
        ('merge({ a = "b", c = "d" }, { e = "f", c = "z" })', {"a": "b", "c": "z", "e": "f"}),
        (
            'merge({ a = "b" }, { a = [1, 2], c = "z" }, { d = 3 })',
            {"a": (1, 2), "c": "z", "d": 3},
        ),
        ("merge()", {}),
        ("merge([{ a = 1 }, { b = 2 }]...)", {"a": 1, "b": 2}),
        ('concat(["a", ""], ["b", "c"])', ("a", "", "b", "c")),
        ('lookup({ a = "ay", b = "bee" }, "a", "what?")', "ay"),
        ('lookup({ a = "ay", b = "bee" }, "c", "what?")', "what?"),
        ('lookup({ a = "ay" }, "a")', "ay"),
        ("one([]) == null", True),
        ('one(["hello"])', "hello"),
        ('one(toset(["hello", "hello"]))', "hello"),
        ('tolist(["a", "b", "c"])', ("a", "b", "c")),
        ('tolist(["a", 1])', ("a", "1")),
        ('toset(["a", "b", "c"])', ("a", "b", "c")),
        ('toset(["a", "b", 3])', ("3", "a", "b")),
        ('toset(["c", "b", "b"])', ("b", "c")),
        ("toset([3, 1, 20, 1])", (1, 3, 20)),
        ('tomap({ "a" = 1, "b" = 2 })', {"a": 1, "b": 2}),
        ('tomap({ "a" = "foo", "b" = true })', {"a": "foo", "b": "true"}),
        ("length([])", 0),
        ('length(["a", "b"])', 2),
        ('length({ "a" = "b" })', 1),
        ('length("hello")', 5),
        ("keys({ a = 1, c = 2, d = 3 })", ("a", "c", "d")),
        ("keys({ d = 1, a = 2 })", ("a", "d")),
        ("values({ a = 3, c = 2, d = 1 })", (3, 2, 1)),
        ("values({ d = 1, a = 2 })", (2, 1)),
        ('contains(["a", "b", "c"], "a")', True),
        ('contains(["a", "b", "c"], "d")', False),
        ('contains([1, 2], "1")', False),
        ('flatten([["a", "b"], [], ["c"]])', ("a", "b", "c")),
        ('flatten([[["a", "b"], []], ["c"]])', ("a", "b", "c")),
        ('distinct(["a", "b", "a", "c", "d", "b"])', ("a", "b", "c", "d")),
        ('element(["a", "b", "c"], 1)', "b"),
        ('element(["a", "b", "c"], 3)', "a"),
        ('element(["a", "b", "c"], length(["a", "b", "c"]) - 1)', "c"),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ('zipmap(["a", "a"], [1, 2])', {"a": 2}),
        ("tostring(12)", "12"),
        ('tonumber("1.5")', 1.5),
        ('tobool("true")', True),
        # try and can
        ('try(local.m.b, "fallback")', "fallback"),
        ('try(local.m.a, "fallback")', 1),
        ('try(local.m.b, local.users[5], "last")', "last"),
        ("can(local.m.b)", False),
        ("can(local.m.a)", True),
        ('can(tonumber("x"))', False),
        # for expressions
        ('[for x in ["a", "", "b"] : upper(x) if x != ""]', ("A", "B")),
        ("{ for k, v in { b = 1, a = 2 } : k => v * 10 }", {"a": 20, "b": 10}),
        ('[for i, x in ["a", "b"] : "${i}=${x}"]', ("0=a", "1=b")),
        ("[for k, v in { b = 1, a = 2 } : k]", ("a", "b")),
        (
            '{ for s in ["ab", "ac", "b"] : split("", s)[0] => s... }',
            {"a": ("ab", "ac"), "b": ("b",)},
        ),
        ('[for u in local.users : u.name if contains(u.tags, "y")]', ("b",)),
        ("[for x in [1, 2] : [for y in [10, 20] : x * y]]", ((10, 20), (20, 40))),
        ("{ for u in local.users : u.name => length(u.tags) }", {"a": 1, "b": 1}),
        # splats
        ("local.users[*].name", ("a", "b")),
        ("local.users.*.name", ("a", "b")),
        ("local.users[*].tags[0]", ("x", "y")),
        ("local.users.*.name[1]", "b"),
        ("local.users[*]", ({"name": "a", "tags": ("x",)}, {"name": "b", "tags": ("y",)})),
        ("local.single[*]", ("x",)),
        ("length(local.none[*])", 0),
        ("local.groups[*].members[*].id", ((1, 2), (3,))),
        # conditionals and operators
        ('local.m.a == 1 ? "one" : "other"', "one"),
        ("true ? 1 : local.m.nope", 1),
        ('"1" + 2', 3),
        ("true == 1", False),
        ("1 == 1.0", True),
        ("-7 % 4", -3),
        ('[1, "a"] == [1, "a"]', True),
        # templates
        ('"%{ for x in ["a", "b"] }${x},%{ endfor }"', "a,b,"),
        ('"%{ for x in ["a", "b"] ~} ${x} %{~ endfor }"', "ab"),
        ('"%{ if false }a%{ else }b%{ endif }"', "b"),
        ('"<%{ if local.m.a > 0 ~}   yes   %{~ endif }>"', "<yes>"),
        ('"%{ for k, v in { b = 2, a = 1 } }${k}${v}%{ endfor }"', "a1b2"),
        ('"%%{ if } $${x}"', "%{ if } ${x}"),
        (
            "<<-EOT\n  %{ for u in local.users ~}\n  user ${u.name}\n  %{ endfor ~}\n  EOT\n",
            "user a\nuser b\n",
        ),
    ],
)
def test_values(expression: str, value: Any) -> None:
    assert setting(expression, LOCALS) == value


def test_one_of_an_empty_splat_is_null() -> None:
    # A null setting is left out, so the target has no "v" at all.
    config_value = setting("{ w = one([]) }", LOCALS)
    assert config_value == {}


def test_templatefile_renders_loops_and_vars(in_tmp: Path) -> None:
    (in_tmp / "backends.tftpl").write_text(
        "%{ for addr in ip_addrs ~}\nbackend ${addr}:${port}\n%{ endfor ~}\n", encoding="utf-8"
    )
    (in_tmp / "backends.json.tftpl").write_text(
        '${jsonencode({"backends": [for addr in ip_addrs : "${addr}:${port}"]})}',
        encoding="utf-8",
    )
    args = '{ port = 8080, ip_addrs = ["10.0.0.1", "10.0.0.2"] }'
    value = setting(f'templatefile("${{path.module}}/backends.tftpl", {args})')
    assert value == "backend 10.0.0.1:8080\nbackend 10.0.0.2:8080\n"
    value = setting(f'templatefile("backends.json.tftpl", {args})')
    assert value == '{"backends":["10.0.0.1:8080","10.0.0.2:8080"]}'


def test_file_and_fileexists_are_relative_to_the_config(in_tmp: Path) -> None:
    (in_tmp / "data.txt").write_text("contents\n", encoding="utf-8")
    value = setting('[fileexists("data.txt"), fileexists("nope.txt"), trimspace(file("data.txt"))]')
    assert value == (True, False, "contents")


def test_problems_in_a_template_name_the_template(in_tmp: Path) -> None:
    (in_tmp / "t.tftpl").write_text("ok\n${name}\n${nope}\n%{ if }\n", encoding="utf-8")
    found = problems(SETTING % 'templatefile("t.tftpl", { name = "x" })')
    assert found == ["t.tftpl:4: %{if} needs an expression"]
    (in_tmp / "t.tftpl").write_text("ok\n${name}\n${nope}\n", encoding="utf-8")
    assert problems(SETTING % 'templatefile("t.tftpl", { name = "x" })') == [
        "t.tftpl:3: nope: a template can only use the vars given to templatefile()"
    ]
    (in_tmp / "t.tftpl").write_text('${templatefile("t.tftpl", {})}', encoding="utf-8")
    assert problems(SETTING % 'templatefile("t.tftpl", {})') == [
        "t.tftpl:1: templatefile(): cannot be called from inside a template"
    ]


def _problems(expression: str) -> list[str]:
    return problems(LOCALS + SETTING % expression, {"TOKEN": "hunter2"})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            'regex("^#", "sym-errors")',
            "regex(): pattern did not match any part of the given string",
        ),
        ('one(["a", "b"])', "one(): needs a list of zero or one elements, got 2"),
        ("element([], 0)", "element(): the list is empty"),
        ('element(["a"], -1)', "element(): the index must not be negative"),
        ('element(["a"], 1.5)', "element() expects a whole number as argument 2"),
        ('format("%d", 1.5)', "format(): %d needs a whole number, got 1.5"),
        ('format("%s %s", "a")', "format(): not enough arguments for %s (argument 2)"),
        (
            'format("%s", "a", "b")',
            "format(): too many arguments; only 1 used by the format string",
        ),
        ('format("%z", 1)', "format(): unsupported format verb %z"),
        ('format("%s", null)', "format(): argument 1 is null: only %v can format null"),
        (
            'replace("x", "/(a)\\\\1/", "y")',
            "replace(): '(a)\\\\1': "
            "Terraform's regular expressions (RE2) have no backreferences (\\1)",
        ),
        (
            'replace("x", "/a(?=b)/", "y")',
            "replace(): 'a(?=b)': Terraform's regular expressions (RE2) have no lookahead (?=...)",
        ),
        (
            'replace("x", "/a(?<!b)/", "y")',
            "replace(): 'a(?<!b)': "
            "Terraform's regular expressions (RE2) have no lookbehind (?<!...)",
        ),
        (
            'replace("x", "/(/", "y")',
            "replace(): invalid regular expression '(': "
            "missing ), unterminated subpattern at position 0",
        ),
        ('lookup({ a = 1 }, "b")', 'lookup(): the map has no key "b" and no default was given'),
        ('lookup({}, "a", 1, 2)', "lookup() takes 2 or 3 arguments"),
        ("upper()", "upper() takes exactly one argument"),
        ('coalesce(null, "")', "coalesce(): no non-null, non-empty-string arguments"),
        ('coalesce({}, "a")', "coalesce(): arguments must all have the same type"),
        ('zipmap(["a"], [1, 2])', "zipmap(): got 1 keys but 2 values"),
        ("merge({ a = 1 }, 2)", "merge(): argument 2 is not a map"),
        ('join(",", [1, [2]])', "join(): cannot use a list as a string"),
        ("keys([1])", "keys() expects a map"),
        ("upper(null)", "upper() argument 1 must not be null"),
        (
            'jsondecode("{")',
            "jsondecode(): invalid JSON: Expecting property name "
            "enclosed in double quotes at line 1 column 2",
        ),
        (
            'templatefile("missing.tftpl", {})',
            'templatefile("missing.tftpl"): no such file missing.tftpl',
        ),
        (
            'upper(env("TOKEN"))',
            "upper(): env(TOKEN) is a secret: use it as a whole value, not inside a string",
        ),
        (
            'format("%s", env("TOKEN"))',
            "format(): env(TOKEN) is a secret: use it as a whole value, not inside a string",
        ),
        ("concat([1]...)", "concat() expects a list as argument 1"),
        ('upper("a"...)', "upper(): only a list can be expanded with ..."),
        (
            "try(local.m.b, local.m.c)",
            'try(): no argument could be evaluated: the last failed with: local.m has no key "c"',
        ),
        ('try(var.nope, "x")', "undefined variable var.nope"),
        (
            "can(nosuch())",
            "unknown function nosuch() (symbox supports "
            + ", ".join(
                [
                    "can",
                    "coalesce",
                    "concat",
                    "contains",
                    "distinct",
                    "element",
                    "env",
                    "file",
                    "fileexists",
                    "flatten",
                    "format",
                    "formatlist",
                    "join",
                    "jsondecode",
                    "jsonencode",
                    "keys",
                    "length",
                    "lookup",
                    "lower",
                    "merge",
                    "one",
                    "regex",
                    "regexall",
                    "replace",
                    "split",
                    "templatefile",
                    "title",
                    "tobool",
                    "tolist",
                    "tomap",
                    "tonumber",
                    "toset",
                    "tostring",
                    "trimspace",
                    "try",
                    "upper",
                    "values",
                    "zipmap",
                ]
            )
            + ")",
        ),
        ("can(1, 2)", "can() takes exactly one argument"),
        ("[for x in null : x]", "cannot iterate over null"),
        ("[for x in [1] : x if x]", "the for expression's if condition must be true or false"),
        (
            '{ for s in ["a", "a"] : s => 1 }',
            'for expression produced the key "a" twice (use ... to group)',
        ),
        ("{ for s in [1] : [s] => 1 }", "map keys must be strings"),
        ("local.users[*].nope", 'local.users[0] has no key "nope"'),
        ("local.m.a.b", 'local.m.a cannot be indexed with "b"'),
        ("local.none.b", 'local.none is null, so it has no "b"'),
        ('"%{ endif }"', "%{endif} without a matching %{if}"),
        ('"%{ if true }x"', "%{if} is never closed with %{endif}"),
        ('"%{ for x in [1] }x%{ endif }"', "%{endif} without a matching %{if}"),
        ('"%{ for x in [[1]] }${x}%{ endfor }"', "cannot interpolate a list into a string"),
    ],
)
def test_problems(expression: str, message: str) -> None:
    found = _problems(expression)
    assert found == [f"config.hcl:{LINE}: {message}"]
    assert all("hunter2" not in text for text in found)


def test_a_directive_problem_in_a_heredoc_names_its_line() -> None:
    assert _problems("<<EOT\nok\n%{ bogus }\nEOT\n") == [
        f"config.hcl:{LINE + 2}: unknown template directive %{{bogus}}"
    ]


def test_errors_inside_a_loop_are_reported_once() -> None:
    assert _problems("[for x in [1, 2, 3] : local.m.nope]") == [
        f'config.hcl:{LINE}: local.m has no key "nope"'
    ]
