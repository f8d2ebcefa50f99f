"""Hold an audit file's end against what the database delivered to it.

A hash chain shows a record changed or removed in the middle of a file, but not lines cut
from its end: what is left still verifies. The database knows how far delivery to each
destination went (its cursor, committed after the file's fsync), so a file that ends
before that cursor lost records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from symbox.store.reader import Reader

# How the destination of the data folder's own audit file is named when no config names one.
DEFAULT_FILE_DESTINATION = "file"


@dataclass(frozen=True)
class DeliveryCheck:
    """What the database says of one destination, and what that means for the file."""

    destination: str
    delivered_seq: int
    problem: str | None


def which_destination(cursors: Mapping[str, int], chosen: str | None) -> str | None:
    """The file destination to hold a file against: ``chosen``, else the only file one."""
    if chosen is not None:
        return chosen
    files = [
        name for name in cursors if name == DEFAULT_FILE_DESTINATION or name.startswith("file:")
    ]
    return files[0] if len(files) == 1 else None


def missing_at_end(file_last_seq: int | None, delivered_seq: int) -> str | None:
    """Describe the records a file lacks at its end, given how far delivery to it went."""
    ends = file_last_seq or 0
    if ends >= delivered_seq:
        return None
    count = delivered_seq - ends
    return (
        f"ends at seq {ends}, but the database delivered records to it up to seq "
        f"{delivered_seq}: {count} record{'s' if count != 1 else ''} missing from its end "
        f"(seq {ends + 1} to {delivered_seq})"
    )


async def check_delivery(
    database: Path, file_last_seq: int | None, destination: str | None
) -> DeliveryCheck | str:
    """Compare a file's last seq with the database's cursor; a str says why it cannot."""
    reader = Reader(database)
    await reader.open()
    try:
        cursors = await reader.audit_cursors()
    finally:
        await reader.close()
    name = which_destination(cursors, destination)
    if name is None:
        known = ", ".join(sorted(cursors)) or "none"
        return f"which destination the file is cannot be told; pass --destination (known: {known})"
    if name not in cursors:
        return f"the database has delivered nothing to destination {name!r}"
    delivered = cursors[name]
    return DeliveryCheck(name, delivered, missing_at_end(file_last_seq, delivered))
