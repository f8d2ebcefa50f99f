"""How the client shows things: aligned tables with local, relative times, or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from symbox.config import format_duration

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def parse_time(text: str | None) -> float | None:
    """POSIX seconds of an API timestamp (ISO-8601), or None."""
    if not text:
        return None
    return datetime.fromisoformat(text).timestamp()


def span(seconds: float) -> str:
    """A length of time as people say it: ``45 s``, ``12 min``, ``2 h 5 min``, ``3 d 4 h``."""
    seconds = round(abs(seconds))
    if seconds < MINUTE:
        return f"{seconds} s"
    # Rounded to the nearest unit: a grant of 10 minutes shows 10 min, not 9, a moment in.
    minutes = round(seconds / MINUTE)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days, hours = divmod(round(seconds / HOUR), 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def relative(at: float, now: float) -> str:
    """``in 12 min`` or ``12 min ago`` (``now`` within a second)."""
    delta = at - now
    if abs(delta) < 1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


def local_time(at: float, now: float, zone: tzinfo | None = None) -> str:
    """``14:05`` today, else ``Dec 06 14:05`` (local time unless ``zone`` is given)."""
    moment = datetime.fromtimestamp(at, zone).astimezone(zone)
    today = datetime.fromtimestamp(now, zone).astimezone(zone).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return moment.strftime("%b %d %H:%M")


def when(text: str | None, now: float, zone: tzinfo | None = None) -> str:
    """An API timestamp for people: ``14:05 (in 12 min)``; empty for none."""
    at = parse_time(text)
    if at is None:
        return ""
    return f"{local_time(at, now, zone)} ({relative(at, now)})"


def duration(seconds: Any) -> str:
    """A duration field (whole seconds in the API) as it was asked for: ``10m``."""
    if isinstance(seconds, int) and seconds > 0:
        return format_duration(seconds)
    return "" if seconds is None else str(seconds)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """Rows as aligned columns under upper-case headers (no trailing spaces)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(head)] + [len(row[i]) for row in cells]) for i, head in enumerate(headers)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [[head.upper() for head in headers], *cells]
    ]
    return "\n".join(lines)


def as_json(value: Any) -> str:
    """Indented JSON for scripts."""
    return json.dumps(value, indent=2, sort_keys=True)


def reason(run: dict[str, Any]) -> str:
    """The reason a request gave, shortened for a table cell."""
    text = str((run.get("fields") or {}).get("reason") or "")
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"


def approvals(run: dict[str, Any]) -> str:
    """``1 of 2`` for a request that needs several approvals; empty when one decides."""
    required = run.get("approvals_required") or 1
    if not isinstance(required, int) or required <= 1:
        return ""
    return f"{len(run.get('approvals') or [])} of {required}"
