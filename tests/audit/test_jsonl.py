"""Tests of the JSON-lines writer: exactly-once appends, rotation, crash repair, modes."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from symbox.audit.chain import canonical_json, seal
from symbox.audit.jsonl import JsonLinesFile
from symbox.audit.verify import VerifyResult, verify_file, verify_lines
from tests.audit.records import as_items, as_lines, make_records, read_lines, write_lines


def test_append_creates_private_folders_and_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "log" / "audit.jsonl"
    records = make_records(3)
    with JsonLinesFile(path) as log:
        assert log.last_seq() is None
        log.append(as_items(records))
        assert log.last_seq() == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var" / "log").stat().st_mode) == 0o700
    assert read_lines(path) == as_lines(records)


def test_requested_mode_is_applied_despite_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    old = os.umask(0o077)
    try:
        with JsonLinesFile(path, mode=0o640, fsync=False) as log:
            log.append(as_items(make_records(1)))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_1000_records_in_batches_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    items = as_items(make_records(1000))
    with JsonLinesFile(path) as log:
        for start in range(0, 1000, 37):
            log.append(items[start : start + 37])
    assert verify_file(path) == VerifyResult(1000, 1, 1000, None, None)


def test_rename_rotation_starts_a_fresh_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    rotated = tmp_path / "audit.jsonl.1"
    items = as_items(make_records(10))
    with JsonLinesFile(path) as log:
        log.append(items[:6])
        os.rename(path, rotated)
        assert log.last_seq() is None
        log.append(items[6:])
        # A re-delivery straddling the rotation must not repeat 6 in the new file.
        log.append(items[5:])
    assert verify_file(rotated) == VerifyResult(6, 1, 6, None, None)
    assert verify_file(path) == VerifyResult(4, 7, 10, None, None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_deleted_file_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    items = as_items(make_records(4))
    with JsonLinesFile(path) as log:
        log.append(items[:2])
        path.unlink()
        log.append(items[2:])
    assert verify_file(path) == VerifyResult(2, 3, 4, None, None)


def test_truncation_rotation_keeps_writing_at_the_new_end(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    items = as_items(make_records(10))
    with JsonLinesFile(path) as log:
        log.append(items[:6])
        copy = path.read_bytes()  # what logrotate's copytruncate keeps
        os.truncate(path, 0)
        log.append(items[4:])  # overlaps what went to the copy
    assert path.read_bytes().startswith(b"{")  # no hole of zeros before our records
    assert verify_file(path) == VerifyResult(4, 7, 10, None, None)
    assert verify_lines(copy.decode().split("\n")) == VerifyResult(6, 1, 6, None, None)


def test_torn_last_line_is_ended_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = as_lines(make_records(8))
    write_lines(path, lines[:5])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(lines[5][:50])  # the crash cut record 6 short
    with JsonLinesFile(path) as log:  # a fresh process
        assert log.last_seq() == 5
        log.append(as_items(make_records(8))[5:])
        assert log.last_seq() == 8
    on_disk = read_lines(path)
    assert on_disk == [*lines[:5], lines[5][:50], *lines[5:]]
    result = verify_file(path)
    assert result.problem_line == 6
    assert result.problem is not None and "not a JSON object" in result.problem
    # The records around the fragment still chain to each other.
    assert verify_lines(on_disk[:5] + on_disk[6:]) == VerifyResult(8, 1, 8, None, None)


def test_complete_record_missing_only_its_newline_is_not_duplicated(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = as_lines(make_records(8))
    path.write_text("\n".join(lines[:6]), encoding="utf-8")
    with JsonLinesFile(path) as log:
        assert log.last_seq() == 5  # an unterminated line is not yet a line
        log.append(as_items(make_records(8))[3:])
    assert read_lines(path) == lines
    assert verify_file(path).ok


def test_torn_line_is_ended_even_when_nothing_new_arrives(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = as_lines(make_records(3))
    path.write_text("\n".join(lines), encoding="utf-8")
    with JsonLinesFile(path) as log:
        log.append(as_items(make_records(3)))
    assert path.read_text(encoding="utf-8") == "\n".join(lines) + "\n"


def test_reappending_written_seqs_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    items = as_items(make_records(6))
    with JsonLinesFile(path) as log:
        log.append(items[:4])
        before = path.read_bytes()
        log.append(items[:4])
        log.append(items[2:4])
        assert path.read_bytes() == before
    with JsonLinesFile(path) as restarted:
        restarted.append(items)
    assert verify_file(path) == VerifyResult(6, 1, 6, None, None)


def test_last_seq_skips_lines_that_are_not_records(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = as_lines(make_records(3))
    write_lines(path, [*lines, "garbage", ""])
    assert JsonLinesFile(path).last_seq() == 3


def test_last_seq_of_missing_empty_and_fragment_only_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = JsonLinesFile(path)
    assert log.last_seq() is None
    path.write_bytes(b"")
    assert log.last_seq() is None
    path.write_bytes(b'{"seq": 1, "ha')
    assert log.last_seq() is None


def test_last_seq_finds_a_last_line_longer_than_64_kib(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    prev = "0" * 64
    lines: list[str] = []
    # ~10 MB of records whose lines are 200 KiB of multi-byte text, so reads backwards
    # cross both line and UTF-8 character boundaries.
    for seq in range(1, 51):
        record = seal({"blob": "é✓" * 40_000}, seq, prev)
        prev = record["hash"]
        lines.append(canonical_json(record))
    write_lines(path, lines)
    assert path.stat().st_size > 10_000_000
    assert JsonLinesFile(path).last_seq() == 50


def test_last_seq_reads_only_the_tail(tmp_path: Path) -> None:
    # A 16 GiB sparse hole: reading it whole would take minutes and more memory than CI has.
    path = tmp_path / "audit.jsonl"
    with path.open("wb") as handle:
        handle.truncate(16 * 1024**3)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n" + "".join(line + "\n" for line in as_lines(make_records(3))))
    assert JsonLinesFile(path).last_seq() == 3


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([(2, '{"seq":2}'), (1, '{"seq":1}')], "increase"),
        ([(1, '{"seq":1}\n{"seq":2}')], "line break"),
        ([(1, '{"seq":2}')], "with that seq"),
        ([(1, "[1]")], "with that seq"),
    ],
)
def test_bad_items_are_refused_before_anything_is_written(
    tmp_path: Path, items: list[tuple[int, str]], message: str
) -> None:
    path = tmp_path / "audit.jsonl"
    with JsonLinesFile(path) as log, pytest.raises(ValueError, match=message):
        log.append(items)
    assert not path.exists()


def test_append_after_close_is_refused(tmp_path: Path) -> None:
    log = JsonLinesFile(tmp_path / "audit.jsonl", fsync=False)
    log.close()
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.append(as_items(make_records(1)))


def test_concurrent_appends_from_threads_write_each_record_once(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    items = as_items(make_records(200))
    with JsonLinesFile(path, fsync=False) as log:

        def deliver_all() -> None:
            for start in range(0, 200, 20):
                log.append(items[start : start + 20])

        # Every thread delivers the whole sequence; only one copy may land.
        threads = [threading.Thread(target=deliver_all) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert verify_file(path) == VerifyResult(200, 1, 200, None, None)
