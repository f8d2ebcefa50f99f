"""Check an audit log's hash chain and say, in plain words, where and how it was broken."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
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


class _Chain:
    """The running check of a hash chain, fed one line at a time (across files too)."""

    def __init__(self) -> None:
        self.count = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.last_hash = ""
        self.last_where = ""
        self.blank: int | None = None

    def result(self, problem: str | None = None, line: int | None = None) -> VerifyResult:
        return VerifyResult(self.count, self.first_seq, self.last_seq, problem, line)

    def feed(self, number: int, raw: str, where: str) -> str | None:
        """Check one line; the problem, without its location, if it breaks the chain."""
        text = raw[:-1] if raw.endswith("\n") else raw
        if not text.strip():
            # Only known to be harmless once we reach the end with nothing after it.
            if self.blank is None:
                self.blank = number
            return None
        if self.blank is not None:
            return "blank line between records (a record may have been erased)"
        try:
            record = _parse(text)
            actual_hash = _recomputed_hash(record)
        except _Unreadable as exc:
            return str(exc)
        seq: int = record["seq"]
        if record["hash"] != actual_hash:
            return "record was edited (hash does not match its content)"
        if self.last_seq is None:
            # Rotation means a file may start mid-chain; only the true start is anchored.
            if seq == 1 and record["prev_hash"] != GENESIS_HASH:
                return "chain does not start at genesis (seq 1 must have prev_hash of 64 zeros)"
            self.first_seq = seq
        else:
            if seq != self.last_seq + 1:
                return (
                    "a record is missing or out of order before this line "
                    f"(seq {seq} follows seq {self.last_seq})"
                )
            if record["prev_hash"] != self.last_hash:
                return f"chain broken (prev_hash does not match the hash of {self.last_where})"
        self.count += 1
        self.last_seq = seq
        self.last_hash = record["hash"]
        self.last_where = where
        return None


def verify_lines(lines: Iterable[str]) -> VerifyResult:
    """Verify a sequence of JSON lines as a hash chain, stopping at the first problem."""
    chain = _Chain()
    for number, raw in enumerate(lines, start=1):
        problem = chain.feed(number, raw, f"line {number}")
        if problem is not None:
            line = chain.blank if chain.blank is not None and "blank" in problem else number
            return chain.result(f"line {line}: {problem}", line)
    return chain.result()


def _lines(path: str | os.PathLike[str]) -> Iterator[str]:
    with open(path, "rb") as handle:
        # Binary mode splits on b"\n" only; surrogateescape turns bad bytes into an
        # unhashable record reported at its line, instead of aborting the whole read.
        for raw in handle:
            yield raw.decode("utf-8", errors="surrogateescape")


def verify_file(path: str | os.PathLike[str]) -> VerifyResult:
    """Verify the audit log at ``path`` line by line without loading it whole."""
    return verify_lines(_lines(path))


def verify_files(paths: Sequence[str | os.PathLike[str]]) -> VerifyResult:
    """Verify rotated audit files, oldest first, as one chain; problems name file and line."""
    chain = _Chain()
    for path in paths:
        # A blank line at the end of one file is not a hole before the next file's records.
        chain.blank = None
        for number, raw in enumerate(_lines(path), start=1):
            problem = chain.feed(number, raw, f"{path} line {number}")
            if problem is not None:
                line = chain.blank if chain.blank is not None and "blank" in problem else number
                return chain.result(f"{path}: line {line}: {problem}", line)
    return chain.result()
