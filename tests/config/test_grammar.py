"""The prebuilt HCL parser the executable carries parses exactly as hcl2's own."""

from __future__ import annotations

from pathlib import Path

import hcl2
from hcl2 import parser as hcl2_parser
from lark.lark import _LOAD_ALLOWED_OPTIONS

from symbox.config.grammar import load_prebuilt

ROOT = Path(__file__).resolve().parents[2]


def test_a_saved_parser_loads_and_parses_like_hcl2(tmp_path: Path) -> None:
    saved = tmp_path / "parser.pickle"
    with saved.open("wb") as out:
        hcl2_parser.parser().save(out, exclude_options=_LOAD_ALLOWED_OPTIONS)
    text = (ROOT / "config.hcl").read_text() + "\n"
    loaded = load_prebuilt(saved).parse(text)
    assert loaded == hcl2.parses_to_tree(text[:-1])
    lines = [node.meta.line for node in loaded.iter_subtrees() if not node.meta.empty]
    assert lines and max(lines) > 50
