"""Write HCL text: blocks, attributes and values, including references and function calls."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

INDENT = "  "
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Longer inline lists are written one item a line, as terraform fmt leaves them readable.
_INLINE_WIDTH = 80


@dataclass(frozen=True)
class Ref:
    """A reference to another resource, written ``TYPE.KEY.id``."""

    type: str
    key: str

    @property
    def address(self) -> str:
        """``TYPE.KEY``, the resource referred to."""
        return f"{self.type}.{self.key}"


@dataclass(frozen=True)
class Call:
    """A function call with one argument: ``env("X")``, ``file("p")``, ``jsonencode([...])``."""

    name: str
    arg: Any


@dataclass
class Attr:
    """``name = value`` inside a block."""

    name: str
    value: Any


@dataclass
class Comment:
    """A ``#`` comment line (or several) inside a block or at the top level."""

    text: str


@dataclass
class Block:
    """``type "label" { ... }`` with attributes, comments and nested blocks in order."""

    type: str
    labels: tuple[str, ...] = ()
    body: list[Attr | Comment | Block] = field(default_factory=list)

    def get(self, name: str) -> Any:
        """The value of attribute ``name``, or None."""
        return next(
            (item.value for item in self.body if isinstance(item, Attr) and item.name == name), None
        )

    def remove(self, name: str) -> None:
        """Drop attribute ``name`` if present."""
        self.body = [
            item for item in self.body if not (isinstance(item, Attr) and item.name == name)
        ]

    def set(self, name: str, value: Any) -> None:
        """Set attribute ``name``, replacing it where it was or adding it at the end."""
        for item in self.body:
            if isinstance(item, Attr) and item.name == name:
                item.value = value
                return
        self.body.append(Attr(name, value))


def is_identifier(text: str) -> bool:
    """Tell whether ``text`` can be written bare as a name or map key."""
    return bool(_IDENTIFIER.match(text))


def string(text: str) -> str:
    """A quoted HCL string: escapes, and ``${`` / ``%{`` kept literal."""
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    return '"' + body.replace("${", "$${").replace("%{", "%%{") + '"'


def value(item: Any, depth: int = 0) -> str:
    """An HCL expression for a Python value (str, number, bool, list, dict, Ref, Call)."""
    if isinstance(item, Ref):
        return f"{item.address}.id"
    if isinstance(item, Call):
        return f"{item.name}({value(item.arg, depth)})"
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return repr(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, list | tuple):
        parts = [value(part, depth + 1) for part in item]
        inline = "[" + ", ".join(parts) + "]"
        if len(inline) <= _INLINE_WIDTH and "\n" not in inline:
            return inline
        inner = INDENT * (depth + 1)
        return "[\n" + "".join(f"{inner}{part},\n" for part in parts) + INDENT * depth + "]"
    if isinstance(item, dict):
        if not item:
            return "{}"
        inner = INDENT * (depth + 1)
        width = max(len(_key(key)) for key in item)
        lines = [
            f"{inner}{_key(key).ljust(width)} = {value(part, depth + 1)}\n"
            for key, part in item.items()
        ]
        return "{\n" + "".join(lines) + INDENT * depth + "}"
    raise TypeError(f"cannot write {type(item).__name__} as HCL")


def _key(key: str) -> str:
    return key if is_identifier(key) else string(key)


def block(item: Block, depth: int = 0) -> list[str]:
    """The lines of a block, indented ``depth`` levels."""
    pad = INDENT * depth
    labels = "".join(f" {string(label)}" for label in item.labels)
    lines = [f"{pad}{item.type}{labels} {{"]
    attrs = [part for part in item.body if isinstance(part, Attr)]
    width = max((len(part.name) for part in attrs), default=0)
    previous: type | None = None
    for part in item.body:
        if isinstance(part, Block):
            if previous is not None:
                lines.append("")
            lines.extend(block(part, depth + 1))
        elif isinstance(part, Comment):
            lines.extend(f"{pad}{INDENT}# {text}".rstrip() for text in part.text.splitlines())
        else:
            if previous is Block:
                lines.append("")
            lines.append(f"{pad}{INDENT}{part.name.ljust(width)} = {value(part.value, depth + 1)}")
        previous = type(part)
    lines.append(f"{pad}}}")
    return lines


def commented(lines: list[str]) -> list[str]:
    """Lines turned into comments, so a resource symbox cannot use stays visible."""
    return [f"# {line}".rstrip() for line in "\n".join(lines).splitlines()]
