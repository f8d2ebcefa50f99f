"""HCL's operators on evaluated values, with Terraform's type rules; errors are ValueErrors."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from symbox.config.schema import FileContent, is_number, number, to_text

_ARITHMETIC: Mapping[str, Callable[[Any, Any], Any]] = MappingProxyType(
    {
        "+": operator.add,
        "-": operator.sub,
        "*": operator.mul,
        "/": operator.truediv,
        "%": lambda left, right: _modulo(left, right),
        "<": operator.lt,
        ">": operator.gt,
        "<=": operator.le,
        ">=": operator.ge,
    }
)
_NUMBER_CHARS = frozenset("0123456789.eE+-")


def equal(left: Any, right: Any) -> bool:
    """``==`` as Terraform means it: values of different types are never equal."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) or is_number(right):
        return is_number(left) and is_number(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    if isinstance(left, str) and isinstance(right, str):
        # FileContent remembers where it came from; as a value it is only its text.
        return str(left) == str(right)
    return type(left) is type(right) and bool(left == right)


def to_number(value: Any) -> int | float | None:
    """``value`` as a number, converting a string such as "12" as Terraform does; else None."""
    if is_number(value):
        return number(value)
    if not isinstance(value, str) or not value or not set(value) <= _NUMBER_CHARS:
        return None
    try:
        return number(int(value)) if value.lstrip("+-").isdigit() else number(float(value))
    except ValueError:
        return None


def to_bool(value: Any) -> bool | None:
    """``value`` as true or false (the strings "true" and "false" convert); else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and not isinstance(value, FileContent):
        return {"true": True, "false": False}.get(value)
    return None


def binary(symbol: str, left: Any, right: Any) -> Any:
    """Apply a binary operator to two values (never INVALID, null or secrets)."""
    if symbol in ("==", "!="):
        return equal(left, right) == (symbol == "==")
    if symbol in ("&&", "||"):
        left_bool, right_bool = to_bool(left), to_bool(right)
        if left_bool is None or right_bool is None:
            raise ValueError(f"{symbol} needs true or false on both sides")
        return (left_bool and right_bool) if symbol == "&&" else (left_bool or right_bool)
    left_number, right_number = to_number(left), to_number(right)
    if left_number is None or right_number is None:
        raise ValueError(f"{symbol} needs numbers on both sides")
    if symbol in ("/", "%") and right_number == 0:
        raise ValueError("division by zero")
    result = _ARITHMETIC[symbol](left_number, right_number)
    return result if isinstance(result, bool) else number(result)


def _modulo(left: int | float, right: int | float) -> int | float:
    # Terraform's % keeps the sign of the left side, as Go's does: -7 % 4 is -3.
    if isinstance(left, int) and isinstance(right, int):
        remainder = abs(left) % abs(right)
        return -remainder if left < 0 else remainder
    return math.fmod(left, right)


def unary(symbol: str, value: Any) -> Any:
    """Apply ``!`` or ``-`` to a value."""
    if symbol == "!":
        flag = to_bool(value)
        if flag is None:
            raise ValueError("! needs true or false")
        return not flag
    amount = to_number(value)
    if amount is None:
        raise ValueError("- needs a number")
    return number(-amount)


def pairs(collection: Any) -> list[tuple[Any, Any]]:
    """What ``for`` iterates: a list's (index, item) or a map's (key, value) by sorted key."""
    if isinstance(collection, list):
        return list(enumerate(collection))
    if isinstance(collection, dict):
        return [(key, collection[key]) for key in sorted(collection)]
    if collection is None:
        raise ValueError("cannot iterate over null")
    kind = "true or false" if isinstance(collection, bool) else "a number"
    kind = "a string" if isinstance(collection, str) else kind
    raise ValueError(f"for needs a list or map, not {kind}")


def map_key(value: Any) -> str:
    """A value used as a map key: strings, and numbers and bools as their text."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or is_number(value):
        return to_text(value)
    raise ValueError("map keys must be strings")
