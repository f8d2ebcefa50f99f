"""The ``prompt_field`` blocks of a flow's ``params``: names, types, defaults, choices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symbox.config import model, schema
from symbox.config.hcl import Attribute, Block, show
from symbox.config.schema import Reader

# Field types a prefetch reducer can fill: the ones shown as a drop-down.
_PREFETCH_TYPES = ("string", "int", "str_list", "int_list")


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
        # A name whose expression failed has been reported already (args.lines holds it).
        if "name" not in args.lines:
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
    prefetch = v.get("prefetch", False)
    if prefetch and field_type not in _PREFETCH_TYPES:
        reader.problem(
            args.lines["prefetch"],
            f"{where}: prefetch: a {field_type} field has no drop-down to fill "
            f"(prefetch works for {', '.join(_PREFETCH_TYPES)})",
        )
        return None
    if prefetch and allowed is not None:
        reader.problem(
            args.lines["prefetch"],
            f"{where}: prefetch: the options come from allowed_values or from a prefetch "
            "reducer, not both",
        )
        return None
    return model.PromptField(
        name=name,
        type=field_type,
        label=v.get("label"),
        required=v.get("required", True),
        visible=v.get("visible", True),
        default=default,
        allowed_values=allowed,
        prefetch=prefetch,
        on_change=v.get("on_change"),
        location=block.location,
        on_change_path=args.paths.get("on_change"),
    )
