"""Terraform's ``dynamic`` blocks: one nested block per element of a collection.

``dynamic "prompt_field" { for_each = ...; content { ... } }`` inside a resource becomes
one ``prompt_field`` block per element, before the resource is read. The content's
expressions keep the iterator (``prompt_field.key`` / ``prompt_field.value``, or the
name ``iterator`` gives) bound as ``Bound`` nodes, which the evaluator understands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lark import Tree

from symbox.config.functions import SetValue
from symbox.config.hcl import Attribute, Block, show, unwrap
from symbox.config.model import Location
from symbox.config.schema import is_invalid, to_text

DYNAMIC = "dynamic"
ARGUMENTS = frozenset({"for_each", "iterator", "labels"})

Evaluate = Callable[[Attribute], Any]
Report = Callable[[Location, str], None]


@dataclass(frozen=True)
class Bound:
    """An expression from a dynamic block's content, with its iterators bound by name."""

    expr: Any
    names: Mapping[str, Any]
    # Read by the evaluator's dispatch, as on lark trees.
    data: str = field(default="bound_expr", init=False)
    meta: Any = field(default=None, init=False)


def has_dynamic(block: Block) -> bool:
    """Whether ``block`` holds a ``dynamic`` block at any depth."""
    return any(nested.type == DYNAMIC or has_dynamic(nested) for nested in block.blocks)


def expand(block: Block, evaluate: Evaluate, report: Report, where: str) -> Block:
    """``block`` with each ``dynamic`` block inside, at any depth, replaced by its blocks."""
    blocks: list[Block] = []
    for nested in block.blocks:
        if nested.type == DYNAMIC:
            blocks.extend(_generate(nested, evaluate, report, where))
        else:
            blocks.append(expand(nested, evaluate, report, where))
    return replace(block, blocks=tuple(blocks))


def _generate(block: Block, evaluate: Evaluate, report: Report, where: str) -> list[Block]:
    if len(block.labels) != 1:
        report(block.location, f'{where}: dynamic block: expected dynamic "BLOCK_TYPE" {{ ... }}')
        return []
    kind = block.labels[0]
    shown = f'{where}: dynamic "{kind}"'
    arguments = {a.name: a for a in block.attributes}
    for name, attribute in arguments.items():
        if name not in ARGUMENTS:
            report(attribute.location, f"{shown}: unexpected argument {name}")
    contents = [b for b in block.blocks if b.type == "content"]
    for nested in block.blocks:
        if nested.type != "content":
            report(nested.location, f"{shown}: unexpected block {nested.type}")
    if len(contents) != 1:
        report(block.location, f"{shown}: needs exactly one content block")
        return []
    if "for_each" not in arguments:
        report(block.location, f"{shown}: missing required argument for_each")
        return []
    iterator = _iterator(arguments.get("iterator"), kind, shown, report)
    if iterator is None:
        return []
    for_each = arguments["for_each"]
    elements = _elements(evaluate(for_each))
    if isinstance(elements, str):
        report(for_each.location, f"{shown}: for_each: {elements}")
        return []
    made: list[Block] = []
    for key, value in elements:
        names = {iterator: {"key": key, "value": value}}
        content = _bind(contents[0], names)
        labels = _labels(arguments.get("labels"), names, evaluate, shown, report)
        if labels is None:
            continue
        generated = Block(kind, labels, content.attributes, content.blocks, content.location)
        # A dynamic block inside the content is expanded with this element's names bound.
        made.append(expand(generated, evaluate, report, where))
    return made


def _iterator(attribute: Attribute | None, kind: str, shown: str, report: Report) -> str | None:
    if attribute is None:
        return kind
    expr = attribute.expr.expr if isinstance(attribute.expr, Bound) else attribute.expr
    node = unwrap(expr)
    if isinstance(node, Tree) and node.data == "identifier":
        return str(node.children[0])
    report(attribute.location, f"{shown}: iterator: expected a name, such as iterator = field")
    return None


def _elements(value: Any) -> list[tuple[Any, Any]] | str:
    """The (key, value) pairs Terraform iterates: list index, map key, or set element."""
    if is_invalid(value):
        return []
    if isinstance(value, SetValue):
        return [(item, item) for item in value]
    if isinstance(value, list):
        return list(enumerate(value))
    if isinstance(value, dict):
        return [(key, value[key]) for key in sorted(value)]
    if value is None:
        return "expected a collection (list, set or map), got null"
    return f"expected a collection (list, set or map), got {show(value)}"


def _labels(
    attribute: Attribute | None,
    names: Mapping[str, Any],
    evaluate: Evaluate,
    shown: str,
    report: Report,
) -> tuple[str, ...] | None:
    if attribute is None:
        return ()
    value = evaluate(replace(attribute, expr=Bound(attribute.expr, names)))
    if is_invalid(value):
        return None
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        report(attribute.location, f"{shown}: labels: expected a list of strings")
        return None
    return tuple(to_text(v) for v in value)


def _bind(block: Block, names: Mapping[str, Any]) -> Block:
    """``block`` with every expression in it, at any depth, evaluated with ``names`` bound."""
    return replace(
        block,
        attributes=tuple(replace(a, expr=_bound(a.expr, names)) for a in block.attributes),
        blocks=tuple(_bind(nested, names) for nested in block.blocks),
    )


def _bound(expr: Any, names: Mapping[str, Any]) -> Bound:
    # An inner dynamic block's iterator shadows an outer one of the same name.
    if isinstance(expr, Bound):
        return Bound(expr.expr, {**expr.names, **names})
    return Bound(expr, names)
