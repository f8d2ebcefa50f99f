"""hcl2's parser, loaded ready-made in the built executable instead of compiled at start."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from hcl2 import parser as hcl2_parser
from hcl2.postlexer import PostLexer
from lark import Lark

# build.spec writes the analysed grammar here, next to hcl2's own modules.
PREBUILT = "hcl2-parser.pickle"


def load_prebuilt(path: Path) -> Any:
    """A parser from a file written by ``Lark.save`` (as build.spec does)."""
    with path.open("rb") as data:
        # What lark does with its own cache file; that file cannot be shipped, as its key
        # includes its absolute path, unknown until the executable is unpacked.
        return Lark.__new__(Lark)._load(data, postlex=PostLexer(), propagate_positions=True)


@functools.cache
def parser() -> Any:
    """The executable's prebuilt parser, else hcl2's own (which caches its grammar)."""
    prebuilt = Path(hcl2_parser.__file__).with_name(PREBUILT)
    if prebuilt.is_file():
        return load_prebuilt(prebuilt)
    return hcl2_parser.parser()


def parses_to_tree(text: str) -> Any:
    """``hcl2.parses_to_tree`` with the parser above."""
    # As hcl2 does: its grammar needs a newline at the end of the text.
    return parser().parse(text + "\n")
