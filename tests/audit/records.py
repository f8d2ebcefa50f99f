"""Builders of sealed audit records and log files shared by the audit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from symbox.audit.chain import GENESIS_HASH, canonical_json, seal


def make_records(
    count: int, *, first_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> list[dict[str, Any]]:
    """Return ``count`` chained records starting at ``first_seq``."""
    records: list[dict[str, Any]] = []
    for seq in range(first_seq, first_seq + count):
        entry = {"event": "grant", "actor": f"user{seq}", "role": "db-admin", "note": "näive ✓"}
        record = seal(entry, seq, prev_hash)
        records.append(record)
        prev_hash = record["hash"]
    return records


def as_lines(records: list[dict[str, Any]]) -> list[str]:
    """Serialise records one per line, without newlines."""
    return [canonical_json(record) for record in records]


def as_items(records: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Return ``(seq, line)`` items as JsonLinesFile.append takes them."""
    return [(record["seq"], canonical_json(record)) for record in records]


def write_lines(path: Path, lines: list[str]) -> None:
    """Write ``lines`` to ``path``, each ended by a newline."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_lines(path: Path) -> list[str]:
    """Return the lines of ``path`` without their newlines."""
    # split("\n"), not splitlines(): only "\n" ends a line in the log format.
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines
