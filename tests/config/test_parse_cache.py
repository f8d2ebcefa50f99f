"""Parse trees kept in the data folder read back exactly as the parser makes them."""

from __future__ import annotations

import ast
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from lark import Token, Tree
from lark.exceptions import LarkError

from symbox.config import ConfigError, grammar, load_config
from symbox.config.grammar import trees_kept_in
from symbox.config.parse_cache import ParseCache, tree_from_json, tree_to_json

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    [ROOT / "config.hcl", ROOT / "example.symtest.hcl"]
    + [
        path
        for path in (ROOT / "tests" / "fixtures").rglob("*")
        if path.suffix in (".tf", ".tfvars", ".hcl")
    ]
)
POSITIONS = ("line", "column", "end_line", "end_column", "start_pos", "end_pos")


def same(left: Any, right: Any, where: str = "root") -> None:
    """Fail unless the two trees are alike in every node, token, type and position."""
    assert type(left) is type(right), where
    if isinstance(left, Token):
        assert (left.type, str(left)) == (right.type, str(right)), where
        for name in POSITIONS:
            assert getattr(left, name, None) == getattr(right, name, None), f"{where}.{name}"
    elif isinstance(left, Tree):
        same(left.data, right.data, f"{where}.data")
        assert (left._meta is None) == (right._meta is None), where
        if left._meta is not None:
            for name in (*POSITIONS, "empty"):
                assert getattr(left.meta, name, None) == getattr(right.meta, name, None), where
        assert len(left.children) == len(right.children), where
        for index, (a, b) in enumerate(zip(left.children, right.children, strict=True)):
            same(a, b, f"{where}/{index}")
    else:
        assert left == right, where


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_every_tree_reads_back_as_parsed(source: Path) -> None:
    tree = grammar.parses_to_tree(source.read_text())
    same(tree_from_json(json.loads(json.dumps(tree_to_json(tree)))), tree)


def test_a_config_read_again_is_not_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "tests" / "fixtures" / "sym_project", project)
    environ = {"SLACK_BOT_TOKEN": "xoxb-x", "OKTA_API_TOKEN": "t", "GRANT_SECRET": "s"}
    folder = tmp_path / "data" / "parse-cache"
    cache = ParseCache(folder)
    with trees_kept_in(cache):
        first = load_config(project, environ)
    assert not folder.exists()
    cache.save()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    kept = sorted(folder.iterdir())
    assert kept

    def no_parser() -> Any:
        raise AssertionError("the parser was loaded")

    monkeypatch.setattr(grammar, "parser", no_parser)
    cache = ParseCache(folder)
    with trees_kept_in(cache):
        again = load_config(project, environ)
    cache.save()
    assert again == first
    assert sorted(folder.iterdir()) == kept


def test_a_tree_that_cannot_be_read_is_parsed_again(tmp_path: Path) -> None:
    text = 'resource "sym_environment" "main" {\n  name = "main"\n}\n'
    cache = ParseCache(tmp_path / "trees")
    with trees_kept_in(cache):
        tree = grammar.parses_to_tree(text)
    cache.save()
    (kept,) = (tmp_path / "trees").iterdir()
    for damage in ("not json", '{"format": 1, "tree": ["x"]}', '{"format": 999, "tree": null}'):
        kept.write_text(damage)
        assert ParseCache(tmp_path / "trees").get(text) is None
        cache = ParseCache(tmp_path / "trees")
        with trees_kept_in(cache):
            same(grammar.parses_to_tree(text), tree)
        cache.save()
        assert ParseCache(tmp_path / "trees").get(text) is not None


def test_the_trees_of_an_edited_config_replace_the_old_ones(tmp_path: Path) -> None:
    config = tmp_path / "config.hcl"
    shutil.copytree(ROOT / "hooks", tmp_path / "hooks")
    flow = (ROOT / "config.hcl").read_text()
    config.write_text(flow)
    environ = {"SLACK_BOT_TOKEN": "xoxb-x", "SYMBOX_GRANT_SECRET": "s"}
    cache = ParseCache(tmp_path / "trees")
    with trees_kept_in(cache):
        load_config(config, environ)
    cache.save()
    before = set((tmp_path / "trees").iterdir())
    config.write_text(flow + '\nresource "sym_environment" "other" {\n  name = "other"\n}\n')
    cache = ParseCache(tmp_path / "trees")
    with trees_kept_in(cache):
        load_config(config, environ)
    cache.save()
    after = set((tmp_path / "trees").iterdir())
    assert len(after) == len(before) and after != before


def test_syntax_errors_are_found_with_the_cache_too(tmp_path: Path) -> None:
    config = tmp_path / "config.hcl"
    config.write_text('resource "sym_environment" "main" {\n  name = \n}\n')
    for _ in range(2):
        cache = ParseCache(tmp_path / "trees")
        with trees_kept_in(cache), pytest.raises(ConfigError) as raised:
            load_config(config, {})
        cache.save()
        assert str(raised.value) == f"{config}:2:10: syntax error: unexpected end of line"
    assert not (tmp_path / "trees").exists()


def test_a_folder_that_cannot_be_written_only_costs_the_parse(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    text = 'resource "sym_environment" "main" {\n  name = "main"\n}\n'
    cache = ParseCache(blocked / "trees")
    with trees_kept_in(cache):
        tree = grammar.parses_to_tree(text)
    cache.save()
    same(tree, grammar.parses_to_tree(text))


def test_config_text_from_every_test_reads_back_as_parsed() -> None:
    # The HCL the test suite writes covers more of the grammar than the repository's own
    # configs (heredocs, templates, splats, for expressions, dynamic blocks).
    seen = 0
    for module in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            if "{" not in node.value or "=" not in node.value:
                continue
            try:
                tree = grammar.parses_to_tree(node.value)
            except LarkError:
                continue
            same(tree_from_json(json.loads(json.dumps(tree_to_json(tree)))), tree)
            seen += 1
    assert seen > 100


def test_values_from_the_environment_are_never_kept(tmp_path: Path) -> None:
    config = tmp_path / "config.hcl"
    config.write_text(
        'variable "creds" {\n  type = map(string)\n}\n\n'
        'resource "sym_environment" "main" {\n  name = var.creds["api"]\n}\n'
    )
    cache = ParseCache(tmp_path / "data" / "parse-cache")
    with trees_kept_in(cache):
        load_config(config, {"TF_VAR_creds": '{ api = "SUPERSECRET-123" }'})
    cache.save()
    kept = list((tmp_path / "data" / "parse-cache").iterdir())
    assert len(kept) == 1
    assert "SUPERSECRET" not in kept[0].read_text()
    # The data folder a first start makes for them is owner-only, as symbox run makes it.
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_a_tree_nested_too_deep_to_keep_is_parsed_each_time(tmp_path: Path) -> None:
    text = "value = " + "[" * 400 + "1" + "]" * 400 + "\n"
    cache = ParseCache(tmp_path / "trees")
    with trees_kept_in(cache):
        tree = grammar.parses_to_tree(text)
    cache.save()
    assert tree.data == "start"
    assert not (tmp_path / "trees").exists()
