"""Terraform string templates: literal text, ``${...}`` and ``%{if}``/``%{for}`` directives.

Quoted strings arrive as python-hcl2's lark tree; heredocs and ``templatefile()`` files
arrive as text and are split here. Both become the same nested nodes, rendered by the
evaluator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree

from symbox.config.hcl import Problem, node_line, parse_expression, trees, unescape
from symbox.config.model import Location, Secret
from symbox.config.operators import pairs, to_bool
from symbox.config.schema import INVALID, is_invalid, to_text
from symbox.config.textfuncs import SECRET_IN_STRING

# What a strip marker (``~``) removes next to a directive, as HCL does.
_WHITESPACE = " \t\r\n"
_KEYWORDS = ("if", "else", "endif", "for", "endfor")
_OPENERS = {"endif": "if", "endfor": "for"}


@dataclass(frozen=True)
class Interpolation:
    """``${expr}``."""

    expr: Any
    line: int


@dataclass(frozen=True)
class If:
    """``%{ if condition }then%{ else }otherwise%{ endif }``."""

    condition: Any
    line: int
    then: tuple[Node, ...]
    otherwise: tuple[Node, ...]


@dataclass(frozen=True)
class For:
    """``%{ for key, value in collection }body%{ endfor }`` (``key`` may be left out)."""

    key: str | None
    value: str
    collection: Any
    line: int
    body: tuple[Node, ...]


Node = str | Interpolation | If | For


@dataclass(frozen=True)
class _Mark:
    """An interpolation or directive before strip markers are applied and blocks nested."""

    kind: str
    line: int
    strip_left: bool = False
    strip_right: bool = False
    expr: Any = None
    names: tuple[str, ...] = ()


_Flat = list[str | _Mark]


def from_string(node: Any, file: str, line: int) -> tuple[Node, ...] | Problem:
    """The template in a quoted string's lark tree."""
    flat: _Flat = []
    for part in trees(node):
        child = part.children[0]
        if isinstance(child, Token):
            text = str(child)
            flat.append(unescape(text) if child.type == "STRING_CHARS" else text[1:])
        elif child.data == "interpolation":
            flat.append(_Mark("interp", node_line(child, line), expr=trees(child)[0]))
        else:
            flat.append(_directive(child, node_line(child, line)))
    return _nest(_strip(flat), file)


def _directive(node: Tree[Any], line: int) -> _Mark:
    keyword_at = next(
        index
        for index, child in enumerate(node.children)
        if isinstance(child, Token) and str(child) in _KEYWORDS
    )
    keyword = str(node.children[keyword_at])
    strip_left = strip_right = seen_in = False
    names: list[str] = []
    expr: Any = None
    for index, child in enumerate(node.children):
        if isinstance(child, Token):
            if child.type == "STRIP_MARKER":
                strip_left, strip_right = (
                    (True, strip_right) if index < keyword_at else (strip_left, True)
                )
            seen_in = seen_in or child.type == "IN"
        elif keyword == "for" and not seen_in and child.data == "identifier":
            names.append(str(child.children[0]))
        elif child.data != "new_line_or_comment" and expr is None:
            expr = child
    return _Mark(keyword, line, strip_left, strip_right, expr, tuple(names))


def from_text(text: str, file: str, first_line: int, what: str) -> tuple[Node, ...] | Problem:
    """The template in ``text`` (a heredoc's body or a template file), first line numbered."""
    flat: _Flat = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith(("$${", "%%{"), index):
            literal.append(text[index + 1 : index + 3])
            index += 3
            continue
        if not text.startswith(("${", "%{"), index):
            literal.append(text[index])
            index += 1
            continue
        at = first_line + text.count("\n", 0, index)
        end = _closing_brace(text, index + 2)
        if end < 0:
            return Problem(Location(file, at), f"unterminated {text[index : index + 2]} in {what}")
        inner = text[index + 2 : end]
        strip_left = inner.startswith("~")
        strip_right = len(inner) > int(strip_left) and inner.endswith("~")
        inner = inner[int(strip_left) : len(inner) - int(strip_right)]
        if text[index] == "$":
            expr, problem = parse_expression(inner, file, at)
            mark: _Mark | Problem = problem or _Mark("interp", at, strip_left, strip_right, expr)
        else:
            mark = _text_directive(inner, file, at, strip_left, strip_right)
        if isinstance(mark, Problem):
            return mark
        flat.append("".join(literal))
        literal = []
        flat.append(mark)
        index = end + 1
    flat.append("".join(literal))
    return _nest(_strip(flat), file)


def _text_directive(
    inner: str, file: str, line: int, strip_left: bool, strip_right: bool
) -> _Mark | Problem:
    rest = inner.lstrip()
    keyword = _word(rest)
    rest = rest[len(keyword) :]
    if keyword not in _KEYWORDS or (rest and not rest[0].isspace()):
        return Problem(Location(file, line), f"unknown template directive %{{{inner.strip()}}}")
    names: list[str] = []
    if keyword == "for":
        rest = rest.lstrip()
        names.append(_word(rest))
        rest = rest[len(names[0]) :].lstrip()
        if rest.startswith(","):
            rest = rest[1:].lstrip()
            names.append(_word(rest))
            rest = rest[len(names[1]) :].lstrip()
        if "" in names or _word(rest) != "in" or not rest[2:3].isspace():
            return Problem(Location(file, line), "%{for} needs NAME [, NAME] in COLLECTION")
        rest = rest[2:]
    expr: Any = None
    if keyword in ("if", "for"):
        if not rest.strip():
            return Problem(Location(file, line), f"%{{{keyword}}} needs an expression")
        expr, problem = parse_expression(rest, file, line)
        if problem is not None:
            return problem
    elif rest.strip():
        return Problem(Location(file, line), f"%{{{keyword}}} takes nothing after it")
    return _Mark(keyword, line, strip_left, strip_right, expr, tuple(names))


def _word(text: str) -> str:
    end = 0
    while end < len(text) and (text[end].isalnum() or text[end] in "_-"):
        end += 1
    return text[:end]


def _strip(flat: _Flat) -> _Flat:
    out = list(flat)
    for index, item in enumerate(out):
        if not isinstance(item, _Mark):
            continue
        before = out[index - 1] if index > 0 else None
        after = out[index + 1] if index + 1 < len(out) else None
        if item.strip_left and isinstance(before, str):
            out[index - 1] = before.rstrip(_WHITESPACE)
        if item.strip_right and isinstance(after, str):
            out[index + 1] = after.lstrip(_WHITESPACE)
    return [item for item in out if item != ""]


@dataclass
class _Frame:
    opener: _Mark
    outer: list[Node]
    then: list[Node]
    otherwise: list[Node] | None = None


def _nest(flat: _Flat, file: str) -> tuple[Node, ...] | Problem:
    root: list[Node] = []
    current = root
    stack: list[_Frame] = []
    for item in flat:
        if isinstance(item, str):
            current.append(item)
        elif item.kind == "interp":
            current.append(Interpolation(item.expr, item.line))
        elif item.kind in ("if", "for"):
            stack.append(_Frame(item, current, []))
            current = stack[-1].then
        elif item.kind == "else":
            if not stack or stack[-1].opener.kind != "if" or stack[-1].otherwise is not None:
                return Problem(Location(file, item.line), "%{else} without a matching %{if}")
            stack[-1].otherwise = []
            current = stack[-1].otherwise
        else:
            opener = _OPENERS[item.kind]
            if not stack or stack[-1].opener.kind != opener:
                msg = f"%{{{item.kind}}} without a matching %{{{opener}}}"
                return Problem(Location(file, item.line), msg)
            frame = stack.pop()
            current = frame.outer
            current.append(_block(frame))
    if stack:
        unclosed = stack[-1].opener
        closer = "endif" if unclosed.kind == "if" else "endfor"
        msg = f"%{{{unclosed.kind}}} is never closed with %{{{closer}}}"
        return Problem(Location(file, unclosed.line), msg)
    return tuple(root)


def _block(frame: _Frame) -> Node:
    mark = frame.opener
    if mark.kind == "if":
        return If(mark.expr, mark.line, tuple(frame.then), tuple(frame.otherwise or ()))
    key, value = (None, mark.names[0]) if len(mark.names) == 1 else mark.names
    return For(key, value, mark.expr, mark.line, tuple(frame.then))


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    index = start
    quoted = False
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    return -1


# Evaluates an expression at a line with the template's loop variables bound.
Evaluate = Callable[[Any, int, Mapping[str, Any]], Any]
# Records a problem at a line of the template; returns INVALID.
Report = Callable[[int, str], Any]


def render(nodes: tuple[Node, ...], evaluate: Evaluate, report: Report) -> Any:
    """Render a template; a lone ``${...}`` keeps its value's type, as in HCL."""
    if len(nodes) == 1 and isinstance(nodes[0], Interpolation):
        return evaluate(nodes[0].expr, nodes[0].line, {})
    pieces: list[str] = []
    ok = _render_into(nodes, {}, evaluate, report, pieces)
    return "".join(pieces) if ok else INVALID


def _render_into(
    nodes: tuple[Node, ...],
    bindings: Mapping[str, Any],
    evaluate: Evaluate,
    report: Report,
    out: list[str],
) -> bool:
    ok = True
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, Interpolation):
            text = _text(evaluate(node.expr, node.line, bindings), node.line, report)
            ok = ok and text is not None
            out.append(text or "")
        elif isinstance(node, If):
            condition = evaluate(node.condition, node.line, bindings)
            flag = None if is_invalid(condition) else to_bool(condition)
            if flag is None:
                if not is_invalid(condition):
                    report(node.line, "the %{if} condition must be true or false")
                ok = False
                continue
            branch = node.then if flag else node.otherwise
            ok = _render_into(branch, bindings, evaluate, report, out) and ok
        else:
            ok = _render_loop(node, bindings, evaluate, report, out) and ok
    return ok


def _render_loop(
    node: For, bindings: Mapping[str, Any], evaluate: Evaluate, report: Report, out: list[str]
) -> bool:
    collection = evaluate(node.collection, node.line, bindings)
    if is_invalid(collection):
        return False
    try:
        items = pairs(collection)
    except ValueError as error:
        report(node.line, str(error))
        return False
    for key, value in items:
        inner = {**bindings, node.value: value}
        if node.key is not None:
            inner[node.key] = key
        if not _render_into(node.body, inner, evaluate, report, out):
            return False
    return True


def _text(value: Any, line: int, report: Report) -> str | None:
    if is_invalid(value):
        return None
    if isinstance(value, Secret):
        report(line, f"{value.source} {SECRET_IN_STRING}")
    elif value is None:
        report(line, "cannot interpolate null into a string")
    elif isinstance(value, list | dict):
        report(
            line,
            f"cannot interpolate a {'list' if isinstance(value, list) else 'map'} into a string",
        )
    else:
        return to_text(value)
    return None
