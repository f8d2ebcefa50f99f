"""The ``prompt_field`` blocks of a flow's ``params``: names, types, defaults, choices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symbox.config import model, schema
from symbox.config.hcl import Attribute, Block, show
from symbox.config.schema import Reader


def read_prompt_field(
    reader: Reader, flow: str, block: Block, value_of: Callable[[Attribute], Any]
) -> model.PromptField | None:
    """Check one ``prompt_field`` block of ``flow``; the field, or None after reporting why."""
    label = block.labels[0] if len(block.labels) == 1 else None
    where = f"{flow}: prompt_field" + (f" {show(label)}" if label is not None else "")
    if len(block.labels) > 1:
        reader.problem(block.location, f'{where}: expected prompt_field "NAME" {{ ... }}')
    args = reader.read(block, schema.PROMPT_FIELD, where, value_of)
    for nested in block.blocks:
        reader.problem(nested.location, f"{where}: unexpected block {nested.type}")
    v = args.values
    name = v.get("name", label)
    if label is not None and name != label:
        reader.problem(args.lines["name"], f"{where}: name {show(name)} differs from the label")
        args.ok = False
    if name is None:
        reader.problem(block.location, f"{where}: missing required argument name")
        return None
    field_type = v.get("type")
    if field_type is not None and field_type not in schema.PROMPT_FIELD_TYPES:
        types = ", ".join(schema.PROMPT_FIELD_TYPES)
        reader.problem(
            args.lines["type"],
            f"{where}: type: unknown field type {show(field_type)} (known: {types})",
        )
        return None
    if field_type is None or not args.ok:
        return None
    allowed, default, errors = schema.prompt_values(
        field_type, v.get("allowed_values"), v.get("default")
    )
    for argument, message in errors:
        reader.problem(args.lines[argument], f"{where}: {message}")
    if errors:
        return None
    return model.PromptField(
        name=name,
        type=field_type,
        label=v.get("label"),
        required=v.get("required", True),
        visible=v.get("visible", True),
        default=default,
        allowed_values=allowed,
        prefetch=v.get("prefetch", False),
        on_change=v.get("on_change"),
        location=block.location,
    )
