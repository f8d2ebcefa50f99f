"""Append audit records to a JSON-lines file exactly once, across log rotation and crashes."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from types import TracebackType

# Big enough that a typical record's line is found in one read, small enough that
# last_seq() stays cheap however large the file grows.
_CHUNK = 64 * 1024
_DIR_MODE = 0o700
# logrotate may create or remove the file between our open attempts; a few retries
# resolve that race without looping forever on a path we can never open.
_OPEN_ATTEMPTS = 3


def _seq_of(line: str | bytes) -> int | None:
    """Return the integer ``seq`` of a JSON object line, or None if it is not one."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(obj, dict):
        seq = obj.get("seq")
        if type(seq) is int:
            return seq
    return None


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    parts: list[bytes] = []
    while size > 0:
        data = os.pread(fd, size, offset)
        if not data:  # the file shrank under us (copytruncate); use what is there
            break
        parts.append(data)
        size -= len(data)
        offset += len(data)
    return b"".join(parts)


def _lines_backwards(fd: int, end: int) -> Iterator[bytes]:
    """Yield the lines in the first ``end`` bytes of ``fd``, last first, without newlines.

    The first item is whatever follows the final newline: b"" for a cleanly ended file,
    otherwise the torn fragment of an interrupted write.
    """
    pieces: list[bytes] = []  # the line being assembled, its rightmost chunk first
    pos = end
    while pos > 0:
        size = min(_CHUNK, pos)
        pos -= size
        chunk = _pread_exact(fd, size, pos)
        stop = len(chunk)
        newline = chunk.rfind(b"\n", 0, stop)
        while newline >= 0:
            pieces.append(chunk[newline + 1 : stop])
            yield b"".join(reversed(pieces))
            pieces = []
            stop = newline
            newline = chunk.rfind(b"\n", 0, stop)
        pieces.append(chunk[:stop])
    yield b"".join(reversed(pieces))


def _last_seq_in(fd: int, *, count_unterminated: bool) -> int | None:
    """Return the seq of the last record line in ``fd``, skipping lines that are not records."""
    lines = _lines_backwards(fd, os.fstat(fd).st_size)
    tail = next(lines)
    # A JSON object cut short never parses, so an unterminated tail that does parse is a
    # whole record that only lost its newline.
    if count_unterminated and tail and (seq := _seq_of(tail)) is not None:
        return seq
    for line in lines:
        # Skipping non-records (a repaired torn fragment, a blank line) keeps the dedup
        # floor right instead of falling back to "nothing written" and duplicating.
        if (seq := _seq_of(line)) is not None:
            return seq
    return None


def _validated(lines: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    batch: list[tuple[int, str]] = []
    for seq, line in lines:
        if type(seq) is not int:
            raise ValueError(f"seq must be an int, got {seq!r}")
        if batch and seq <= batch[-1][0]:
            raise ValueError(f"seqs must increase strictly: {seq} after {batch[-1][0]}")
        if "\n" in line or "\r" in line:
            raise ValueError(f"line for seq {seq} contains a line break")
        # Dedup trusts the seq inside the file, so the two must agree.
        if _seq_of(line) != seq:
            raise ValueError(f"line for seq {seq} is not a JSON object with that seq")
        batch.append((seq, line))
    return batch


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


class JsonLinesFile:
    """An append-only JSON-lines audit file that a log shipper tails.

    Records are written exactly once: ``append`` skips any seq not above the last record
    already in the file (or already written by this object to an earlier, rotated file),
    so re-delivering a batch after a crash never duplicates a line. Rotation by rename
    and by truncation (copytruncate) are both followed.

    If a crash left a torn final line, the next append first ends it with a newline so
    new records start on a line of their own. The fragment stays in the file and
    ``verify_file`` reports it ("not a JSON object"); the records after it still chain to
    the record before it, so verifying the lines on either side of it shows nothing else
    is missing.

    Limits: a crash followed by a rename rotation before restart can repeat the last
    batch at the head of the new file; and if the seq counter is ever reset below the
    file's last seq, those records are skipped as already written.

    Not for concurrent use by several processes on one path; calls from several threads
    are serialised.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, fsync: bool = True, mode: int = 0o600
    ) -> None:
        """Remember where to write; nothing is opened or created until the first append."""
        self._path = os.fspath(path)
        self._fsync = fsync
        self._mode = mode
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        # Survives rotation, so a batch re-delivered just after a rotation is not
        # written again into the fresh file.
        self._high_water: int | None = None
        self._closed = False

    @property
    def path(self) -> str:
        """The path written to (the current file, whatever inode is there now)."""
        return self._path

    def last_seq(self) -> int | None:
        """Return the seq of the last complete record line at ``path``, or None if there is none."""
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            return _last_seq_in(fd, count_unterminated=False)
        finally:
            os.close(fd)

    def append(self, lines: Sequence[tuple[int, str]]) -> None:
        """Append ``(seq, json_line)`` items not yet in the file, in one write, then fsync."""
        batch = _validated(lines)
        with self._lock:
            if self._closed:
                raise ValueError("append() on a closed JsonLinesFile")
            if not batch:
                return
            fd = self._current_fd()
            try:
                self._append_to(fd, batch)
            except OSError:
                # After a failed write or fsync the fd's state is unknown; reopening next
                # time re-reads the file, which is the only source of truth.
                self._drop_fd()
                raise

    def _append_to(self, fd: int, batch: list[tuple[int, str]]) -> None:
        # Everything is read from the file each time rather than cached, so truncation
        # by copytruncate needs no special case: O_APPEND writes at the new end, and the
        # torn-line check and dedup floor below look at what is there now.
        size = os.fstat(fd).st_size
        torn = size > 0 and _pread_exact(fd, 1, size - 1) != b"\n"
        floors = [
            seq
            for seq in (_last_seq_in(fd, count_unterminated=True), self._high_water)
            if seq is not None
        ]
        floor = max(floors) if floors else None
        fresh = [line for seq, line in batch if floor is None or seq > floor]
        if torn or fresh:
            payload = ("\n" if torn else "") + "".join(line + "\n" for line in fresh)
            self._write_all(fd, payload.encode("utf-8"))
        # Also when everything was skipped: a crashed predecessor may have written these
        # lines without syncing them, and the caller is about to record them as shipped.
        if self._fsync:
            os.fsync(fd)
        self._high_water = max(batch[-1][0], floor) if floor is not None else batch[-1][0]

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def _current_fd(self) -> int:
        if self._fd is not None:
            try:
                identity: tuple[int, int] | None = _identity(os.stat(self._path))
            except FileNotFoundError:
                identity = None
            if identity != self._identity:
                # Renamed away (or deleted): what we wrote is in the old file; follow the name.
                self._drop_fd()
        if self._fd is None:
            self._fd = self._open()
            self._identity = _identity(os.fstat(self._fd))
        return self._fd

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
        for _ in range(_OPEN_ATTEMPTS):
            try:
                return os.open(self._path, flags)
            except FileNotFoundError:
                pass
            self._make_parents()
            try:
                fd = os.open(self._path, flags | os.O_CREAT | os.O_EXCL, self._mode)
            except FileExistsError:
                continue
            try:
                # The umask may have cleared bits the caller asked for (e.g. group read).
                os.fchmod(fd, self._mode)
                if self._fsync:
                    _fsync_dir(os.path.dirname(os.path.abspath(self._path)))
            except BaseException:
                os.close(fd)
                raise
            return fd
        raise OSError(f"could not open {self._path}: it keeps appearing and disappearing")

    def _make_parents(self) -> None:
        missing: list[str] = []
        parent = os.path.dirname(os.path.abspath(self._path))
        while not os.path.exists(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        for folder in reversed(missing):
            try:
                os.mkdir(folder, _DIR_MODE)
            except FileExistsError:
                continue
            if self._fsync:
                _fsync_dir(os.path.dirname(folder))

    def _drop_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd, self._identity = self._fd, None, None
            os.close(fd)

    def close(self) -> None:
        """Close the file; further appends raise ValueError. Safe to call twice."""
        with self._lock:
            self._closed = True
            self._drop_fd()

    def __enter__(self) -> JsonLinesFile:
        """Return self, closed again on leaving the block."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the file."""
        self.close()
