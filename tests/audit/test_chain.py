"""Tests of canonical JSON and record sealing."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from symbox.audit.chain import GENESIS_HASH, canonical_json, entry_hash, seal, sealed_line


def test_canonical_json_is_sorted_compact_and_keeps_unicode() -> None:
    assert (
        canonical_json({"b": 1, "a": {"z": "é", "y": [1, 2]}}) == '{"a":{"y":[1,2],"z":"é"},"b":1}'
    )


def test_canonical_json_rejects_nan() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


def test_seal_pins_the_hash_format() -> None:
    record = seal({"actor": "ann"}, 1, GENESIS_HASH)
    body = '{"actor":"ann","prev_hash":"' + "0" * 64 + '","seq":1}'
    assert record == {
        "actor": "ann",
        "seq": 1,
        "prev_hash": GENESIS_HASH,
        "hash": hashlib.sha256(body.encode("utf-8")).hexdigest(),
    }


def test_seal_does_not_modify_its_input() -> None:
    entry = {"actor": "ann"}
    seal(entry, 5, "a" * 64)
    assert entry == {"actor": "ann"}


def test_entry_hash_matches_seal_and_detects_any_change() -> None:
    record = seal({"actor": "ann", "role": "admin"}, 7, "b" * 64)
    assert entry_hash(record) == record["hash"]
    for key, value in [("actor", "bob"), ("seq", 8), ("prev_hash", "c" * 64), ("extra", 1)]:
        assert entry_hash({**record, key: value}) != record["hash"]


@pytest.mark.parametrize("key", ["seq", "prev_hash", "hash"])
def test_seal_refuses_entries_that_already_carry_chain_fields(key: str) -> None:
    with pytest.raises(ValueError, match=key):
        seal({"actor": "ann", key: "x"}, 1, GENESIS_HASH)


@pytest.mark.parametrize("seq", [0, -1, True])
def test_seal_refuses_bad_seq(seq: int) -> None:
    with pytest.raises(ValueError, match="seq"):
        seal({"actor": "ann"}, seq, GENESIS_HASH)


@pytest.mark.parametrize(
    "entry",
    [
        {"actor": "ann", "id": "e1", "type": "event", "zeta": [1, {"b": 2, "a": "é"}]},
        {"id": "e2"},
        {"actor": "ann"},
        {},
        {"hasg": 1, "hasi": 2, "h": None},
    ],
)
def test_sealed_line_is_the_canonical_json_of_the_sealed_record(entry: dict[str, object]) -> None:
    digest, line = sealed_line(entry, 3, "c" * 64)
    record = seal(entry, 3, "c" * 64)
    assert line == canonical_json(record)
    assert digest == record["hash"] == entry_hash(json.loads(line))
