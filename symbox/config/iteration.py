"""``for`` expressions and splats (``xs[*].name``, legacy ``xs.*.name``) over evaluated values.

The evaluator hands in how to evaluate a node (with loop variables bound) and how to
apply traversal steps, so this module knows HCL's rules and nothing of references.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lark import Token

from symbox.config.hcl import show, step_name, trees, unwrap
from symbox.config.operators import map_key, pairs, to_bool
from symbox.config.schema import INVALID, is_invalid

SPLATS = ("full_splat_expr_term", "attr_splat_expr_term")
# Evaluates a node with names bound (by the enclosing for expression).
Evaluate = Callable[[Any, Mapping[str, Any]], Any]
# Records a problem at the expression's line; returns INVALID.
Report = Callable[[str], Any]
# Applies traversal steps to a value named ``shown`` in messages.
Apply = Callable[[Any, Sequence[Any], str], Any]


def for_expression(node: Any, evaluate: Evaluate, report: Report) -> Any:
    """``[for k, v in c : v if cond]`` and ``{for k, v in c : k => v...}``."""
    intro, *rest = trees(node)
    names = [str(child.children[0]) for child in trees(intro)[:-1]]
    condition = rest.pop() if rest[-1].data == "for_cond" else None
    collection = evaluate(trees(intro)[-1], {})
    if is_invalid(collection):
        return collection
    try:
        items = pairs(collection)
    except ValueError as error:
        return report(str(error))
    results: list[tuple[Any, Any]] = []
    for key, value in items:
        bound = {names[0]: value} if len(names) == 1 else {names[0]: key, names[1]: value}
        if condition is not None:
            keep = evaluate(trees(condition)[0], bound)
            flag = None if is_invalid(keep) else to_bool(keep)
            if flag is None:
                msg = "the for expression's if condition must be true or false"
                return keep if is_invalid(keep) else report(msg)
            if not flag:
                continue
        produced = [evaluate(part, bound) for part in rest]
        if any(is_invalid(part) for part in produced):
            return INVALID
        results.append((produced[0], produced[-1]))
    if node.data == "for_tuple_expr":
        return [value for _, value in results]
    grouping = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children)
    return _object(results, grouping, report)


def _object(results: list[tuple[Any, Any]], grouping: bool, report: Report) -> Any:
    built: dict[str, Any] = {}
    for raw_key, value in results:
        try:
            key = map_key(raw_key)
        except ValueError as error:
            return report(str(error))
        if grouping:
            built.setdefault(key, []).append(value)
        elif key in built:
            return report(f"for expression produced the key {show(key)} twice (use ... to group)")
        else:
            built[key] = value
    return built


def splat(node: Any, evaluate: Evaluate, apply: Apply) -> Any:
    """``source[*].steps`` and ``source.*.steps``: the steps applied to each element."""
    # HCL nests splats: in xs[*].a[*].b the second applies inside the first.
    segments: list[Any] = []
    while node.data in SPLATS:
        source, each = trees(node)
        segments.append(each)
        node = unwrap(source)
    segments.reverse()
    value = evaluate(node, {})
    if is_invalid(value):
        return value
    return _splat_from(value, segments, describe(node), apply)


def _splat_from(value: Any, segments: list[Any], shown: str, apply: Apply) -> Any:
    each, rest = segments[0], segments[1:]
    steps = trees(each)
    after: list[Any] = []
    if each.data == "attr_splat":
        # The legacy .* splat takes only attribute steps; an index applies to the result.
        cut = next((i for i, step in enumerate(steps) if step.data != "get_attr"), len(steps))
        steps, after = steps[:cut], steps[cut:]
    # As in Terraform: null splats to an empty list, a single value to a list of one.
    items = [] if value is None else value if isinstance(value, list) else [value]
    results = []
    for index, item in enumerate(items):
        result = apply(item, steps, f"{shown}[{index}]")
        if rest and not is_invalid(result):
            result = _splat_from(result, rest, f"{shown}[{index}]", apply)
        if is_invalid(result):
            return result
        results.append(result)
    return apply(results, after, f"{shown}[*]")


def describe(node: Any) -> str:
    """How a value is named in messages: its reference when simple, else "value"."""
    if node.data == "identifier":
        return str(node.children[0])
    if node.data == "get_attr_expr_term":
        inner, step = trees(node)
        name = step_name(step)
        return f"{describe(unwrap(inner))}.{name}" if name else "value"
    return "value"
