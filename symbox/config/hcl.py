"""The one adapter around python-hcl2: parse text into blocks and attributes with lines."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from symbox.config import grammar
from symbox.config.model import Location, Secret

# Tokens worth naming in a syntax error; the rest read better as the raw text.
_TOKEN_NAMES = MappingProxyType({"$END": "end of file", "NL_OR_COMMENT": "end of line"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, at the place it was written."""

    location: Location | None
    message: str
    column: int | None = None

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        if self.column is not None:
            return f"{self.location}:{self.column}: {self.message}"
        return f"{self.location}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: tuple[Problem, ...] | list[Problem]) -> None:
        self.problems = tuple(problems)
        # The problems themselves are the argument, so a pickled error comes back whole.
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def sorted_problems(problems: list[Problem], files: tuple[str, ...]) -> list[Problem]:
    """Problems in reading order: by file, then line, then column."""
    order = {name: index for index, name in enumerate(files)}

    def key(problem: Problem) -> tuple[int, int, int]:
        if problem.location is None:
            return (-1, 0, 0)
        where = problem.location
        return (order.get(where.file, len(order)), where.line, problem.column or 0)

    return sorted(problems, key=key)


@dataclass(frozen=True)
class Attribute:
    """``name = expression``; ``expr`` is the lark expression tree, evaluated later."""

    name: str
    expr: Any
    location: Location


@dataclass(frozen=True)
class Block:
    """``type "label" ... { ... }``: its attributes and nested blocks, in source order."""

    type: str
    labels: tuple[str, ...]
    attributes: tuple[Attribute, ...]
    blocks: tuple[Block, ...]
    location: Location


def parse_file(text: str, file: str) -> tuple[Block | None, list[Problem]]:
    """Parse one file's text into a root block named ``file``; syntax errors are problems."""
    try:
        tree = grammar.parses_to_tree(text)
    except LarkError as error:
        return None, [syntax_problem(error, file)]
    problems: list[Problem] = []
    root = _block_body("", (), tree.children[0], Location(file, 1), problems)
    return root, problems


def parse_expression(text: str, file: str, line: int) -> tuple[Any, Problem | None]:
    """Parse an expression's text (from a heredoc's ``${...}``) as if written at ``line``."""
    # Leading newlines put the expression on its real line, so its nodes report it.
    source = "\n" * (line - 1) + "_ = " + text + "\n"
    try:
        tree = grammar.parses_to_tree(source)
    except LarkError as error:
        # The column would count the "_ = " this function added, so leave it out.
        message = syntax_problem(error, file).message.replace("end of file", "end of ${...}")
        return None, Problem(Location(file, line), message)
    attributes = [child for child in trees(tree.children[0]) if child.data == "attribute"]
    if len(attributes) != 1:
        return None, Problem(Location(file, line), f"invalid expression ${{{text}}}")
    return attributes[0].children[2], None


def syntax_problem(error: LarkError, file: str) -> Problem:
    """Turn a lark error into a problem at its line and column."""
    line = getattr(error, "line", None)
    column = getattr(error, "column", None)
    message = "syntax error"
    if isinstance(error, UnexpectedToken):
        token = error.token
        text = str(token)
        if text.startswith(("\n", "\r")):
            shown = "end of line"
        else:
            shown = _TOKEN_NAMES.get(token.type) or show(text.strip().split("\n")[0] or text)
        message = f"syntax error: unexpected {shown}"
    elif isinstance(error, UnexpectedCharacters):
        message = f"syntax error: unexpected character {show(error.char)}"
    elif not isinstance(error, UnexpectedInput):
        message = f"syntax error: {error}"
    if not isinstance(line, int) or line < 1:
        return Problem(Location(file, 1), message)
    return Problem(Location(file, line), message, column if isinstance(column, int) else None)


def show(value: Any) -> str:
    """Write a value for a message the way HCL would: ``"text"``, ``true``, ``[1, 2]``."""
    if isinstance(value, Secret):
        return value.source
    return json.dumps(value, ensure_ascii=False, default=str)


def literal_string(node: Any) -> str | None:
    """The text of a quoted string without interpolation, else None."""
    if not isinstance(node, Tree) or node.data != "string":
        return None
    pieces: list[str] = []
    for part in trees(node):
        token = part.children[0]
        if not isinstance(token, Token):
            return None
        if token.type == "STRING_CHARS":
            pieces.append(unescape(str(token)))
        elif token.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
            pieces.append(str(token)[1:])
        else:
            return None
    return "".join(pieces)


def unescape(text: str) -> str:
    """Apply HCL's backslash escapes to the raw characters of a quoted string."""
    if "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 >= len(text):
            out.append(char)
            index += 1
            continue
        code = text[index + 1]
        if code in simple:
            out.append(simple[code])
            index += 2
        elif code in ("u", "U"):
            width = 4 if code == "u" else 8
            digits = text[index + 2 : index + 2 + width]
            try:
                out.append(chr(int(digits, 16)))
                index += 2 + width
            except ValueError:
                out.append(char)
                index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def unwrap(node: Any) -> Any:
    """The expression inside ``expr_term`` wrappers (but not inside parentheses)."""
    while isinstance(node, Tree) and node.data == "expr_term" and len(trees(node)) == 1:
        if isinstance(node.children[0], Token):
            break
        node = trees(node)[0]
    return node


def step_name(step: Any) -> str | None:
    """The name of a ``.name`` traversal step, or None for an index or splat."""
    if step.data != "get_attr":
        return None
    return str(trees(step)[0].children[0])


def type_name(expr: Any) -> str | None:
    """The name of a variable's ``type`` (``string``, ``number``, ``list`` ...), if simple."""
    node = unwrap(expr)
    if isinstance(node, Tree) and node.data == "identifier":
        return str(node.children[0])
    if isinstance(node, Tree) and node.data == "function_call":
        return str(trees(node)[0].children[0])
    return None


def node_line(node: Any, default: int) -> int:
    """The 1-based line of a lark tree or token, or ``default`` if it has none."""
    if isinstance(node, Token):
        return node.line if isinstance(node.line, int) else default
    meta = getattr(node, "meta", None)
    line = getattr(meta, "line", None) if meta is not None and not meta.empty else None
    return line if isinstance(line, int) else default


def trees(node: Any) -> list[Any]:
    """The child trees of ``node`` that carry meaning (no newlines or comments)."""
    return [
        child
        for child in node.children
        if isinstance(child, Tree) and child.data != "new_line_or_comment"
    ]


def _name(node: Any) -> str:
    """The text of an identifier, keyword or literal_value node."""
    token = node.children[0]
    return str(token)


def _block_body(
    block_type: str,
    labels: tuple[str, ...],
    body: Any,
    location: Location,
    problems: list[Problem],
) -> Block:
    attributes: list[Attribute] = []
    blocks: list[Block] = []
    for child in trees(body):
        line = node_line(child, location.line)
        if child.data == "attribute":
            expr = child.children[2]
            attributes.append(
                Attribute(_name(child.children[0]), expr, Location(location.file, line))
            )
        elif child.data == "block":
            blocks.append(_block(child, Location(location.file, line), problems))
    return Block(block_type, labels, tuple(attributes), tuple(blocks), location)


def _block(node: Any, location: Location, problems: list[Problem]) -> Block:
    parts = trees(node)
    block_type = _name(parts[0])
    labels: list[str] = []
    body: Any = None
    for part in parts[1:]:
        if part.data == "body":
            body = part
        elif part.data == "string":
            text = literal_string(part)
            if text is None:
                problems.append(
                    Problem(location, f"{block_type} block: labels cannot use ${{...}}")
                )
                text = ""
            labels.append(text)
        else:
            labels.append(_name(part))
    if body is None:
        body = Tree("body", [])
    return _block_body(block_type, tuple(labels), body, location, problems)


def heredoc_body(token: Any, trim: bool) -> str:
    """The template text of a heredoc token: its lines between the markers, dedented if ``<<-``."""
    text = str(token).replace("\r\n", "\n")
    body = text.split("\n", 1)[1] if "\n" in text else ""
    body = body.rstrip("\n")
    body = body.rsplit("\n", 1)[0] + "\n" if "\n" in body else ""
    return _dedent(body) if trim else body


def module_dir(file: str) -> str:
    """``path.module``: the absolute folder of the file an expression is written in."""
    return os.path.abspath(os.path.dirname(file) or ".")


def display_path(full: str, file: str) -> str:
    """Show ``full`` the way the user named the config: under its folder when it is inside."""
    shown_dir = os.path.dirname(file)
    relative = os.path.relpath(full, module_dir(file))
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return full
    return os.path.join(shown_dir, relative) if shown_dir else relative


def _dedent(body: str) -> str:
    lines = body.split("\n")
    indents = [len(text) - len(text.lstrip(" \t")) for text in lines if text.strip()]
    cut = min(indents, default=0)
    return "\n".join(text[cut:] for text in lines)
