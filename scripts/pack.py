"""Pack a one-folder PyInstaller build into one self-extracting executable.

The output is a short POSIX shell header followed by a gzip'd tar of the folder. The first
start unpacks it into a cache folder named after the payload's hash; every later start
finds it there and execs the unpacked program at once, so the process that runs is the
real executable (signals, exit status and the hook workers' `sys.executable` included).

    python scripts/pack.py dist/symbox.d dist/symbox
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import sys
import tarfile
from pathlib import Path

# Fixed width, so the header's length does not depend on the offset written into it.
OFFSET_WIDTH = 10
HEADER = """#!/bin/sh
# symbox: a self-extracting program. The first start unpacks it into
# $SYMBOX_CACHE_DIR (default: $CACHE_DIRECTORY as set by systemd's CacheDirectory=, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/symbox); later starts run the unpacked copy at once.
set -eu
id=@ID@
offset=@OFFSET@
cache="${SYMBOX_CACHE_DIR:-${CACHE_DIRECTORY:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/symbox}}"
dir="$cache/$id"
if [ ! -x "$dir/symbox" ]; then
  umask 077
  if ! mkdir -p "$cache" 2>/dev/null || [ ! -O "$cache" ]; then
    echo "symbox: cannot unpack into $cache: not a folder this user owns (set SYMBOX_CACHE_DIR)" >&2
    exit 1
  fi
  tmp="$cache/.$id.$$"
  rm -rf "$tmp"
  mkdir "$tmp"
  if ! tail -c +"$offset" "$0" | tar -xzf - -C "$tmp"; then
    rm -rf "$tmp"
    echo "symbox: cannot unpack $0 into $cache" >&2
    exit 1
  fi
  # A rename, so a concurrent first start never sees a half-unpacked folder.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
fi
exec "$dir/symbox" "$@"
"""


def _tar(folder: Path, mtime: int) -> bytes:
    """A reproducible gzip'd tar of the folder's contents (sorted, fixed owners and times)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = mtime
            if info.isfile():
                with path.open("rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=mtime)


def header(payload_id: str) -> bytes:
    """The shell header for a payload whose hash-derived name is ``payload_id``."""
    text = HEADER.replace("@ID@", payload_id)
    size = len(text.replace("@OFFSET@", "0" * OFFSET_WIDTH).encode())
    # `tail -c +N` counts from 1: the payload starts at the byte after the header.
    return text.replace("@OFFSET@", str(size + 1).zfill(OFFSET_WIDTH)).encode()


def pack(folder: str | os.PathLike[str], output: str | os.PathLike[str]) -> str:
    """Write ``output`` from the one-folder build in ``folder``; return the payload's id."""
    source = Path(folder)
    if not (source / "symbox").is_file():
        raise SystemExit(f"pack: {source} has no symbox executable")
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    payload = _tar(source, mtime)
    payload_id = hashlib.sha256(payload).hexdigest()[:20]
    target = Path(output)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(header(payload_id) + payload)
    partial.chmod(0o755)
    partial.replace(target)
    return payload_id


def main(argv: list[str] | None = None) -> int:
    """Command line: ``pack.py FOLDER OUTPUT``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", help="the one-folder build (holds the `symbox` executable)")
    parser.add_argument("output", help="the self-extracting file to write")
    args = parser.parse_args(argv)
    payload_id = pack(args.folder, args.output)
    size = Path(args.output).stat().st_size
    print(f"{args.output}: {size / 1e6:.1f} MB, payload {payload_id}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
