"""The ``break_glass`` block of a flow's ``params``: self-granted access, reviewed afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symbox.config import model, schema
from symbox.config.durations import format_duration
from symbox.config.hcl import Attribute, Block, show
from symbox.config.schema import Reader

# Without a setting, a reason must be about a sentence long.
DEFAULT_REASON_MIN_LENGTH = 20
_MAX_REASON_MIN_LENGTH = 1000


def read_break_glass(
    reader: Reader,
    where: str,
    block: Block,
    value_of: Callable[[Attribute], Any],
    fields: tuple[model.PromptField, ...],
    schedules_expiry: bool,
) -> model.BreakGlass | None:
    """Check a ``break_glass`` block of a flow's params; the setting, or None after reporting."""
    where = f"{where}: break_glass"
    if block.labels:
        reader.problem(block.location, f"{where}: expected break_glass {{ ... }} without a label")
    args = reader.read(block, schema.BREAK_GLASS, where, value_of)
    for nested in block.blocks:
        reader.problem(nested.location, f"{where}: unexpected block {nested.type}")
        args.ok = False
    if not schedules_expiry:
        # Access nobody approved must end by itself: the timer is what makes it safe.
        reader.problem(
            block.location,
            f"{where}: only a flow whose strategy schedules de-escalation can grant "
            "break-glass access",
        )
        args.ok = False
    v = args.values
    longest = v.get("max_duration")
    if isinstance(longest, int):
        shortest = _shortest_duration(fields)
        if longest <= 0:
            reader.problem(args.lines["max_duration"], f"{where}: max_duration must be positive")
            args.ok = False
        elif shortest is not None and longest < shortest:
            reader.problem(
                args.lines["max_duration"],
                f"{where}: max_duration: {format_duration(longest)} is shorter than every "
                f'allowed value of the "duration" field (the shortest is '
                f"{format_duration(shortest)})",
            )
            args.ok = False
    length = v.get("reason_min_length", DEFAULT_REASON_MIN_LENGTH)
    if type(length) is not int or not 1 <= length <= _MAX_REASON_MIN_LENGTH:
        reader.problem(
            args.lines.get("reason_min_length", block.location),
            f"{where}: reason_min_length: expected a whole number from 1 to "
            f"{_MAX_REASON_MIN_LENGTH}, got {show(length)}",
        )
        args.ok = False
    if not args.ok or not isinstance(longest, int):
        return None
    return model.BreakGlass(longest, length, block.location)


def _shortest_duration(fields: tuple[model.PromptField, ...]) -> int | None:
    duration = next((f for f in fields if f.name == "duration"), None)
    if duration is None or duration.type != "duration" or not duration.allowed_values:
        return None
    values = [value for value in duration.allowed_values if isinstance(value, int)]
    return min(values) if values else None
