"""Durations as written in config.hcl and prompt fields: ``30s``, ``10m``, ``1h``, ``2d``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import MappingProxyType

_DURATION = re.compile(r"([0-9]+)(mo|s|m|h|d)")
# Largest first, so format_duration picks the largest exact unit; a month is 30 days.
_UNITS = (("mo", 30 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_SECONDS = MappingProxyType(dict(_UNITS))


def parse_duration(text: str) -> int:
    """Return the whole seconds ``text`` (``30s``, ``10m``, ``1h``, ``2d``, ``1mo``) stands for."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f'invalid duration "{text}": expected'
            f" a positive whole number followed by "
            "s, m, h, d or mo (e.g. 30s, 10m, 1h, 2d, 1mo)"
        )
    return int(match.group(1)) * _SECONDS[match.group(2)]


def format_duration(seconds: int) -> str:
    """Return ``seconds`` written with the largest unit that divides it exactly."""
    if seconds < 0:
        raise ValueError(f"invalid duration {seconds}: must not be negative")
    if seconds == 0:
        return "0s"
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every whole number is a multiple of 1s")


def iso(at: float) -> str:
    """Format POSIX seconds as ISO-8601 UTC with milliseconds."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
