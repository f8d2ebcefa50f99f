"""Flows written for Sym's provider 1.x: ``template`` and ``params = { ..._json }``.

Before the ``params`` block, a flow named its template and held its parameters in a map
of strings, with lists as JSON: ``allowed_sources_json``, ``prompt_fields_json``. Such a
flow is read by turning the map into the ``params`` block it stands for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from symbox.config.hcl import Attribute, Block, show
from symbox.config.model import Location
from symbox.config.schema import is_invalid

# The only template symbox runs; Sym's provider 1.x named it on every flow.
APPROVAL_TEMPLATE = "sym:template:approval:"
BOOLEANS = frozenset(
    {"allow_revoke", "schedule_deescalation", "include_decision_message", "allow_guest_interaction"}
)

Evaluate = Callable[[Attribute], Any]
Report = Callable[[Location, str], None]


@dataclass(frozen=True)
class Constant:
    """An already known value standing where an expression would be."""

    value: Any
    # Read by the evaluator's dispatch, as on lark trees.
    data: str = field(default="constant", init=False)
    meta: Any = field(default=None, init=False)


def legacy_flow(
    block: Block, where: str, evaluate: Evaluate, report: Report, notices: list[str]
) -> Block:
    """``block`` with 1.x's ``template`` read past and its ``params`` map made a block."""
    found = {a.name: a for a in block.attributes if a.name in ("template", "params")}
    if not found:
        return block
    rest = tuple(a for a in block.attributes if a.name not in found)
    template = found.get("template")
    if template is not None:
        value = evaluate(template)
        if isinstance(value, str) and not value.startswith(APPROVAL_TEMPLATE):
            report(
                template.location,
                f"{where}: template: {show(value)} is not Sym's approval template, the only "
                "one symbox runs",
            )
        elif not is_invalid(value):
            notices.append(
                f"{template.location}: {where}: template ignored: every symbox flow is an "
                "approval flow (Sym's provider 1.x named it)"
            )
    blocks = block.blocks
    params = found.get("params")
    if params is not None:
        if any(nested.type == "params" for nested in blocks):
            report(params.location, f"{where}: params is set both as a map and as a block")
        else:
            made = _params_block(params, where, evaluate(params), report)
            if made is not None:
                blocks = (*blocks, made)
    return replace(block, attributes=rest, blocks=blocks)


def _params_block(params: Attribute, where: str, value: Any, report: Report) -> Block | None:
    at = params.location
    if is_invalid(value):
        return None
    if not isinstance(value, dict):
        report(at, f"{where}: params: expected a map (Sym's provider 1.x) or a params block")
        return None
    attributes: list[Attribute] = []
    fields: list[Block] = []
    for key, item in value.items():
        if key.endswith("_json"):
            decoded = _json(item, f"{where}: params.{key}", at, report)
            if decoded is None:
                continue
            if key == "prompt_fields_json":
                fields.extend(_prompt_fields(decoded, where, at, report))
                continue
            attributes.append(Attribute(key.removesuffix("_json"), Constant(decoded), at))
        elif key in BOOLEANS and item in ("true", "false"):
            attributes.append(Attribute(key, Constant(item == "true"), at))
        else:
            attributes.append(Attribute(key, Constant(item), at))
    return Block("params", (), tuple(attributes), tuple(fields), at)


def _prompt_fields(decoded: Any, where: str, at: Location, report: Report) -> list[Block]:
    if not isinstance(decoded, list) or not all(isinstance(item, dict) for item in decoded):
        report(at, f"{where}: params.prompt_fields_json: expected a JSON list of objects")
        return []
    return [
        Block(
            "prompt_field",
            (),
            tuple(Attribute(str(name), Constant(item), at) for name, item in spec.items()),
            (),
            at,
        )
        for spec in decoded
    ]


def _json(text: Any, shown: str, at: Location, report: Report) -> Any:
    if not isinstance(text, str):
        report(at, f"{shown}: expected a JSON string (jsonencode(...))")
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        report(at, f"{shown}: not JSON: {error}")
        return None
