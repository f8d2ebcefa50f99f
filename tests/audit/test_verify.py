"""Tests of the chain verifier: round trips and each kind of tampering, on real files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from symbox.audit.chain import GENESIS_HASH, canonical_json, entry_hash, seal
from symbox.audit.verify import VerifyResult, verify_file, verify_files, verify_lines
from tests.audit.records import as_lines, make_records, read_lines, write_lines


def _edit(line: str, **changes: object) -> str:
    return canonical_json({**json.loads(line), **changes})


def _reseal(line: str, **changes: object) -> str:
    """Edit a record and recompute its hash, as a forger who knows the scheme would."""
    record = {**json.loads(line), **changes}
    record["hash"] = entry_hash(record)
    return canonical_json(record)


def _verify_tampered(tmp_path: Path, tamper: Callable[[list[str]], None]) -> VerifyResult:
    lines = as_lines(make_records(10))
    tamper(lines)
    path = tmp_path / "audit.jsonl"
    write_lines(path, lines)
    return verify_file(path)


def test_round_trip_of_1000_records(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_lines(path, as_lines(make_records(1000)))
    result = verify_file(path)
    assert result == VerifyResult(1000, 1, 1000, None, None)
    assert result.ok


def test_empty_file_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    assert verify_file(path) == VerifyResult(0, None, None, None, None)


def test_trailing_empty_line_is_ok() -> None:
    lines = as_lines(make_records(3))
    assert verify_lines([*lines, ""]).ok
    assert verify_lines(f"{lines[0]}\n{lines[1]}\n{lines[2]}\n".split("\n")).count == 3


def test_edited_field_is_reported_at_its_line(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        lines[6] = _edit(lines[6], actor="mallory")

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem == "line 7: record was edited (hash does not match its content)"
    assert (result.problem_line, result.count, result.last_seq) == (7, 6, 6)
    assert not result.ok


def test_deleted_line_is_reported_where_the_gap_is(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        del lines[6]

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem == (
        "line 7: a record is missing or out of order before this line (seq 8 follows seq 6)"
    )


def test_swapped_lines_are_reported_at_the_first_of_them(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        lines[3], lines[4] = lines[4], lines[3]

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem == (
        "line 4: a record is missing or out of order before this line (seq 5 follows seq 3)"
    )


def test_inserted_copy_of_a_record_is_reported_at_the_insert(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        lines.insert(5, _edit(lines[4], actor="mallory"))

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem_line == 6
    assert result.problem == "line 6: record was edited (hash does not match its content)"


def test_forged_record_with_valid_hash_is_exposed_by_the_next_line(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        prev = json.loads(lines[4])
        forged = seal({"event": "grant", "actor": "mallory"}, 6, prev["hash"])
        lines.insert(5, canonical_json(forged))

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem == (
        "line 7: a record is missing or out of order before this line (seq 6 follows seq 6)"
    )


def test_changed_prev_hash_is_an_edit(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        lines[6] = _edit(lines[6], prev_hash="f" * 64)

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem == "line 7: record was edited (hash does not match its content)"


def test_resealed_prev_hash_breaks_the_chain(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        lines[6] = _reseal(lines[6], prev_hash="f" * 64)

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem == "line 7: chain broken (prev_hash does not match the hash of line 6)"


def test_resealed_edit_breaks_the_link_from_the_next_line(tmp_path: Path) -> None:
    # Replacing a record (even with a correct hash) changes its hash, so the next
    # record's prev_hash no longer points at it.
    def tamper(lines: list[str]) -> None:
        lines[3] = _reseal(lines[3], actor="mallory")

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem == "line 5: chain broken (prev_hash does not match the hash of line 4)"


def test_truncated_head_verifies_from_a_later_seq(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        del lines[:4]

    result = _verify_tampered(tmp_path, tamper)
    assert result == VerifyResult(6, 5, 10, None, None)


def test_first_record_with_seq_1_must_start_at_genesis(tmp_path: Path) -> None:
    def tamper(lines: list[str]) -> None:
        lines[:] = as_lines(make_records(10, prev_hash="e" * 64))

    result = _verify_tampered(tmp_path, tamper)
    assert result.problem == (
        "line 1: chain does not start at genesis (seq 1 must have prev_hash of 64 zeros)"
    )
    assert result.count == 0


def test_blank_line_in_the_middle_is_a_problem() -> None:
    lines = as_lines(make_records(5))
    lines.insert(2, "")
    result = verify_lines(lines)
    assert result.problem_line == 3
    assert result.problem is not None and "blank line" in result.problem


@pytest.mark.parametrize("bad", ["[1, 2]", '"text"', "{not json", '{"seq": 3, "prev_h'])
def test_non_object_line_is_reported(bad: str) -> None:
    lines = as_lines(make_records(5))
    lines[2] = bad
    result = verify_lines(lines)
    assert result.problem is not None
    assert result.problem.startswith("line 3: not a JSON object")
    assert (result.count, result.first_seq, result.last_seq) == (2, 1, 2)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"seq": "3"}, "seq"), ({"seq": True}, "seq"), ({"hash": None}, "hash")],
)
def test_malformed_chain_fields_are_reported(changes: dict[str, object], field: str) -> None:
    lines = as_lines(make_records(5))
    lines[2] = _edit(lines[2], **changes)
    assert verify_lines(lines).problem == (
        f"line 3: record has no valid {field} (it must be "
        + ("an integer)" if field == "seq" else "a string)")
    )


def test_duplicate_field_is_reported() -> None:
    # The hash covers the last "actor", but a reader keeping the first would see "mallory".
    lines = as_lines(make_records(3))
    lines[1] = lines[1].replace("{", '{"actor":"mallory",', 1)
    result = verify_lines(lines)
    assert result.problem_line == 2
    assert result.problem is not None and '"actor" twice' in result.problem


def test_invalid_utf8_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_lines(path, as_lines(make_records(3)))
    data = path.read_bytes().replace("näive".encode(), b"n\xffive", 1)
    path.write_bytes(data)
    result = verify_file(path)
    assert result.problem == "line 1: record contains text that is not valid Unicode"


def test_torn_last_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = as_lines(make_records(4))
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40], encoding="utf-8")
    result = verify_file(path)
    assert result.problem_line == 4
    assert result.count == 3


def test_verify_file_reads_what_write_lines_wrote(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = as_lines(make_records(3, first_seq=40, prev_hash=GENESIS_HASH))
    write_lines(path, lines)
    assert read_lines(path) == lines
    assert verify_file(path) == VerifyResult(3, 40, 42, None, None)


def test_rotated_files_verify_as_one_chain(tmp_path: Path) -> None:
    lines = as_lines(make_records(10))
    older, newer = tmp_path / "audit.jsonl.1", tmp_path / "audit.jsonl"
    write_lines(older, lines[:6])
    write_lines(newer, lines[6:])
    result = verify_files([older, newer])
    assert result.ok and (result.count, result.first_seq, result.last_seq) == (10, 1, 10)
    # Out of order, the newer file's first record does not follow the older file's last.
    swapped = verify_files([newer, older])
    assert swapped.problem == (
        f"{older}: line 1: a record is missing or out of order before this line"
        " (seq 1 follows seq 10)"
    )


def test_a_record_lost_at_rotation_is_reported_in_the_next_file(tmp_path: Path) -> None:
    lines = as_lines(make_records(10))
    older, newer = tmp_path / "audit.jsonl.1", tmp_path / "audit.jsonl"
    write_lines(older, lines[:5])  # seq 6 was never written anywhere
    write_lines(newer, lines[6:])
    result = verify_files([older, newer])
    assert result.problem == (
        f"{newer}: line 1: a record is missing or out of order before this line"
        " (seq 7 follows seq 5)"
    )
    edited = lines[6:]
    edited[2] = edited[2].replace("user9", "mallory")
    write_lines(older, lines[:6])
    write_lines(newer, edited)
    result = verify_files([older, newer])
    assert result.problem == (
        f"{newer}: line 3: record was edited (hash does not match its content)"
    )
    assert result.count == 8
