"""Check an audit log's hash chain and say, in plain words, where and how it was broken."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from symbox.audit.chain import GENESIS_HASH, entry_hash


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a verification: the first problem, if any, and the records before it.

    ``count``, ``first_seq`` and ``last_seq`` describe the records that checked out,
    i.e. everything before ``problem_line`` when there is a problem.
    """

    count: int
    first_seq: int | None
    last_seq: int | None
    problem: str | None
    problem_line: int | None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return self.problem is None


class _Unreadable(Exception):
    """A line that is not a usable record; the message is meant for an auditor."""


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON and the chain cannot hash them (allow_nan=False).
    raise ValueError(f"{name} is not valid JSON")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last duplicate silently; another reader (the SIEM) may keep the
    # first, so a duplicate key lets a forger show a value the hash never covered.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Unreadable(f'record has the field "{key}" twice, so readers may disagree on it')
        obj[key] = value
    return obj


def _parse(text: str) -> dict[str, Any]:
    try:
        obj = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _Unreadable(
            "not a JSON object (invalid JSON, e.g. a fragment left by an interrupted write)"
        ) from exc
    if not isinstance(obj, dict):
        raise _Unreadable("not a JSON object")
    seq = obj.get("seq")
    if type(seq) is not int:
        raise _Unreadable("record has no valid seq (it must be an integer)")
    for key in ("prev_hash", "hash"):
        if not isinstance(obj.get(key), str):
            raise _Unreadable(f"record has no valid {key} (it must be a string)")
    return obj


def _recomputed_hash(record: dict[str, Any]) -> str:
    try:
        return entry_hash(record)
    except ValueError as exc:
        # Lone surrogates: bytes that were not UTF-8, or "\ud800"-style escapes.
        raise _Unreadable("record contains text that is not valid Unicode") from exc


def verify_lines(lines: Iterable[str]) -> VerifyResult:
    """Verify a sequence of JSON lines as a hash chain, stopping at the first problem."""
    count = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash = ""
    last_line = 0
    blank_line: int | None = None

    def fail(line: int, message: str) -> VerifyResult:
        return VerifyResult(count, first_seq, last_seq, f"line {line}: {message}", line)

    for number, raw in enumerate(lines, start=1):
        text = raw[:-1] if raw.endswith("\n") else raw
        if not text.strip():
            # Only known to be harmless once we reach the end with nothing after it.
            if blank_line is None:
                blank_line = number
            continue
        if blank_line is not None:
            return fail(blank_line, "blank line between records (a record may have been erased)")
        try:
            record = _parse(text)
            actual_hash = _recomputed_hash(record)
        except _Unreadable as exc:
            return fail(number, str(exc))
        seq: int = record["seq"]
        if record["hash"] != actual_hash:
            return fail(number, "record was edited (hash does not match its content)")
        if last_seq is None:
            # Rotation means a file may start mid-chain; only the true start is anchored.
            if seq == 1 and record["prev_hash"] != GENESIS_HASH:
                return fail(
                    number,
                    "chain does not start at genesis (seq 1 must have prev_hash of 64 zeros)",
                )
            first_seq = seq
        else:
            if seq != last_seq + 1:
                return fail(
                    number,
                    "a record is missing or out of order before this line "
                    f"(seq {seq} follows seq {last_seq})",
                )
            if record["prev_hash"] != last_hash:
                return fail(
                    number,
                    f"chain broken (prev_hash does not match the hash of line {last_line})",
                )
        count += 1
        last_seq = seq
        last_hash = record["hash"]
        last_line = number
    return VerifyResult(count, first_seq, last_seq, None, None)


def verify_file(path: str | os.PathLike[str]) -> VerifyResult:
    """Verify the audit log at ``path`` line by line without loading it whole."""
    with open(path, "rb") as handle:
        # Binary mode splits on b"\n" only; surrogateescape turns bad bytes into an
        # unhashable record reported at its line, instead of aborting the whole read.
        return verify_lines(raw.decode("utf-8", errors="surrogateescape") for raw in handle)
