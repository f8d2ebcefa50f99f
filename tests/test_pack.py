"""The self-extracting file scripts/pack.py writes: unpack once, then exec the program."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from scripts.pack import pack

PROGRAM = """#!/bin/sh
echo "$0"
for arg in "$@"; do echo "arg: $arg"; done
cat "$(dirname "$0")/_internal/data.txt"
exit 3
"""


def one_folder(folder: Path) -> Path:
    """A stand-in for a one-folder build: an executable, a data file and a symlink."""
    (folder / "_internal").mkdir(parents=True)
    (folder / "_internal" / "data.txt").write_text("payload data\n")
    (folder / "_internal" / "link.txt").symlink_to("data.txt")
    program = folder / "symbox"
    program.write_text(PROGRAM)
    program.chmod(0o755)
    return folder


def run(packed: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "SYMBOX_CACHE_DIR": str(cache)}
    return subprocess.run(
        [str(packed), *args], capture_output=True, text=True, env=env, timeout=30, check=False
    )


def test_first_start_unpacks_into_the_cache_and_later_starts_reuse_it(tmp_path: Path) -> None:
    packed = tmp_path / "symbox"
    payload_id = pack(one_folder(tmp_path / "build"), packed)
    assert packed.stat().st_mode & 0o777 == 0o755
    cache = tmp_path / "cache"
    first = run(packed, cache, "run", "--config", "a file.hcl")
    # exec: the program's own exit status and arguments, run from the unpacked folder.
    assert first.returncode == 3, first.stderr
    unpacked = cache / payload_id
    assert first.stdout.splitlines() == [
        str(unpacked / "symbox"),
        "arg: run",
        "arg: --config",
        "arg: a file.hcl",
        "payload data",
    ]
    assert (unpacked / "_internal" / "link.txt").is_symlink()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    marker = (unpacked / "symbox").stat().st_mtime_ns
    assert run(packed, cache, "again").returncode == 3
    assert (unpacked / "symbox").stat().st_mtime_ns == marker
    assert sorted(path.name for path in cache.iterdir()) == [payload_id]


def test_packing_is_reproducible_and_the_id_follows_the_contents(tmp_path: Path) -> None:
    folder = one_folder(tmp_path / "build")
    first_id = pack(folder, tmp_path / "one")
    assert pack(folder, tmp_path / "two") == first_id
    assert (tmp_path / "one").read_bytes() == (tmp_path / "two").read_bytes()
    (folder / "_internal" / "data.txt").write_text("changed\n")
    assert pack(folder, tmp_path / "three") != first_id


def test_a_damaged_file_fails_clearly_and_leaves_no_half_unpacked_folder(
    tmp_path: Path,
) -> None:
    packed = tmp_path / "symbox"
    pack(one_folder(tmp_path / "build"), packed)
    packed.write_bytes(packed.read_bytes()[:-200])
    cache = tmp_path / "cache"
    result = run(packed, cache)
    assert result.returncode == 1
    assert "symbox: cannot unpack" in result.stderr
    assert list(cache.iterdir()) == []
