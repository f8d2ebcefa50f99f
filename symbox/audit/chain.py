"""Hash-chain sealing of audit records: canonical JSON and SHA-256 links."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the record with seq 1: there is nothing before it."""

_CHAIN_KEYS = ("seq", "prev_hash", "hash")


def canonical_json(obj: Mapping[str, Any]) -> str:
    """Serialise ``obj`` the one way the chain hashes it (sorted keys, no spaces, no NaN)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _digest(body: Mapping[str, Any]) -> str:
    # UTF-8 is fixed here rather than left to the platform so hashes match everywhere.
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def seal(entry: Mapping[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """Return a copy of ``entry`` with ``seq``, ``prev_hash`` and its chain ``hash`` added."""
    record = _chained(entry, seq, prev_hash)
    record["hash"] = _digest(record)
    return record


def sealed_line(entry: Mapping[str, Any], seq: int, prev_hash: str) -> tuple[str, str]:
    """Seal ``entry`` and return ``(hash, canonical JSON line)``, encoding it only once.

    The line equals ``canonical_json(seal(entry, seq, prev_hash))``: the record is encoded
    in two halves around where the sorted ``hash`` key goes, and the hashed text (the
    record without ``hash``) is the two halves joined.
    """
    record = _chained(entry, seq, prev_hash)
    before = {key: record[key] for key in record if key < "hash"}
    after = {key: record[key] for key in record if key > "hash"}
    head = canonical_json(before)[1:-1]
    tail = canonical_json(after)[1:-1]
    body = "{" + ",".join(part for part in (head, tail) if part) + "}"
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    hashed = f'"hash":"{digest}"'
    return digest, "{" + ",".join(part for part in (head, hashed, tail) if part) + "}"


def _chained(entry: Mapping[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    clashes = [key for key in _CHAIN_KEYS if key in entry]
    if clashes:
        raise ValueError(f"entry already has chain field(s) {', '.join(clashes)}")
    # bool is an int subclass, but `true` in the file would not round-trip as a seq.
    if type(seq) is not int or seq < 1:
        raise ValueError(f"seq must be a positive integer, got {seq!r}")
    if not isinstance(prev_hash, str):
        raise ValueError(f"prev_hash must be a string, got {prev_hash!r}")
    record = dict(entry)
    record["seq"] = seq
    record["prev_hash"] = prev_hash
    return record


def entry_hash(record: Mapping[str, Any]) -> str:
    """Recompute the chain hash of a sealed record from everything except its ``hash``."""
    return _digest({key: value for key, value in record.items() if key != "hash"})
