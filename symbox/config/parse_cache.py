"""Parse trees of config text kept as JSON in the data folder, so a restart skips the parser.

Loading hcl2's parser and building its lexers is most of the time it takes to read a
config (about 80 ms of a 0.5 s start); a restart almost always reads the same text. Each
tree is kept under the SHA-256 of the text and of the versions of lark and hcl2 that
parsed it, as plain JSON (never pickle: the folder's files must not be able to run code),
in a folder only symbox's user can read. A file that cannot be read back as a tree is
ignored and parsed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import lark
from hcl2.version import version as hcl2_version
from lark import Token, Tree

# Bumped whenever the JSON below changes shape.
FORMAT = 1
_POSITIONS = ("line", "column", "end_line", "end_column", "start_pos", "end_pos")


class ParseCache:
    """Parse trees by text, in ``folder``; new ones are written by ``save``."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._used: set[str] = set()
        self._new: dict[str, str] = {}

    def get(self, text: str) -> Any | None:
        """The tree kept for ``text``, or None."""
        key = _key(text)
        try:
            data = json.loads((self._folder / f"{key}.json").read_text(encoding="utf-8"))
            tree = tree_from_json(data["tree"]) if data.get("format") == FORMAT else None
        except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError):
            return None
        if tree is not None:
            self._used.add(key)
        return tree

    def put(self, text: str, tree: Any) -> None:
        """Keep ``tree`` as the parse of ``text`` (in memory until ``save``)."""
        try:
            body = json.dumps({"format": FORMAT, "tree": tree_to_json(tree)}, separators=(",", ":"))
        except (TypeError, RecursionError):
            return  # a node this format does not know, or nested too deep: parsed each time
        key = _key(text)
        self._used.add(key)
        self._new[key] = body

    def save(self) -> None:
        """Write the new trees and remove those of text no longer read (an edited config's
        old versions); called once a config is accepted, so a refused one leaves nothing.

        The folder is made owner-only. A folder that cannot be written costs only the next
        parse.
        """
        try:
            if self._new:
                # The data folder too, when this is its first start: owner-only, as symbox
                # run makes it (mkdir's parents would get the umask's mode).
                self._folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._folder.mkdir(mode=0o700, exist_ok=True)
                self._folder.chmod(0o700)
            for key, body in self._new.items():
                handle, temporary = tempfile.mkstemp(dir=self._folder, suffix=".tmp")
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(body)
                os.replace(temporary, self._folder / f"{key}.json")
            self._new.clear()
            if self._folder.is_dir():
                for path in self._folder.iterdir():
                    if path.suffix in (".json", ".tmp") and path.stem not in self._used:
                        path.unlink(missing_ok=True)
        except OSError:
            return


def _key(text: str) -> str:
    versions = f"{FORMAT}\0{lark.__version__}\0{hcl2_version}\0"
    return hashlib.sha256((versions + text).encode("utf-8")).hexdigest()


def tree_to_json(node: Any) -> Any:
    """A lark tree (or token) as JSON values, with every position."""
    if isinstance(node, Token):
        return ["t", node.type, node.value, [getattr(node, name, None) for name in _POSITIONS]]
    if isinstance(node, Tree):
        meta = node._meta
        positions = (
            None
            if meta is None
            else [getattr(meta, name, None) for name in _POSITIONS] + [meta.empty]
        )
        return [
            "n",
            tree_to_json(node.data),
            [tree_to_json(child) for child in node.children],
            positions,
        ]
    if node is None or isinstance(node, str):
        return node
    raise TypeError(f"cannot keep a {type(node).__name__} in a parse tree")


def tree_from_json(item: Any) -> Any:
    """The lark tree (or token) ``tree_to_json`` wrote."""
    if item is None or isinstance(item, str):
        return item
    kind = item[0]
    if kind == "t":
        _, kind_name, value, where = item
        line, column, end_line, end_column, start_pos, end_pos = where
        return Token(kind_name, value, start_pos, line, column, end_line, end_column, end_pos)
    if kind == "n":
        _, data, children, positions = item
        tree = Tree(tree_from_json(data), [tree_from_json(child) for child in children])
        if positions is not None:
            meta = tree.meta  # made on first use: a tree without one stays without
            for name, value in zip(_POSITIONS, positions[:-1], strict=True):
                if value is not None:
                    setattr(meta, name, value)
            meta.empty = bool(positions[-1])
        return tree
    raise ValueError(f"not a parse tree node: {kind!r}")
