"""hcl2's parser, loaded ready-made in the built executable instead of compiled at start."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

from hcl2 import parser as hcl2_parser
from hcl2.postlexer import PostLexer
from lark import Lark

# build.spec writes the analysed grammar here, next to hcl2's own modules.
PREBUILT = "hcl2-parser.pickle"


class TreeCache(Protocol):
    """Parse trees kept by text (symbox.config.parse_cache.ParseCache)."""

    def get(self, text: str) -> Any | None:
        """The tree kept for ``text``, or None."""

    def put(self, text: str, tree: Any) -> None:
        """Keep ``tree`` as the parse of ``text``."""


# The cache the config being read in this context uses: set by whoever reads it (the
# server, with its data folder), not by the config code, which is called from deep within.
_trees: ContextVar[TreeCache | None] = ContextVar("symbox_parse_trees", default=None)


@contextmanager
def trees_kept_in(cache: TreeCache | None) -> Iterator[None]:
    """Within the block, parse trees are read from and kept in ``cache`` (None: nowhere)."""
    token = _trees.set(cache)
    try:
        yield
    finally:
        _trees.reset(token)


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
    """``hcl2.parses_to_tree`` with the parser above (or the tree kept for ``text``)."""
    cache = _trees.get()
    if cache is not None:
        kept = cache.get(text)
        if kept is not None:
            return kept
    # As hcl2 does: its grammar needs a newline at the end of the text.
    tree = parser().parse(text + "\n")
    if cache is not None:
        cache.put(text, tree)
    return tree
