"""The built executable: start-up to ``GET /healthz`` 200, size on disk, idle memory.

``python -m bench.binary [--binary dist/symbox] [--starts 10] [--onefile] [--restart]``

Each start runs ``BINARY run`` with the repository's example ``config.hcl`` (its flow has
hooks, so two sandbox workers start too) on a fresh data folder (with ``--restart``, every
start on the same folder, as a deployment restarts: its database exists and the config's
parse trees are kept from the start before), and polls ``/healthz``
every 2 ms from just before the spawn until it answers 200. Then symbox sits idle for
``--idle`` seconds and its resident memory is read from ``/proc`` (the server process, and
apart from it the hook workers), and it is stopped with SIGTERM. For the packed build the
first start, which unpacks into an empty cache, is reported on its own line.
``--onefile`` says the binary is a PyInstaller onefile build (two processes per program).
The floor is the same binary doing the least a command can: ``BINARY --version`` (start the
frozen interpreter, import the command line, print, exit), timed as often as the starts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import print_machine, proc_status_kib

ROOT = Path(__file__).resolve().parent.parent
TARGET_START_SECONDS = 0.5
TARGET_SIZE_MB = 40.0
TARGET_RSS_MIB = 80.0
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Start:
    """One start of the executable."""

    seconds: float
    server_rss_mib: float
    workers_rss_mib: float
    workers: int
    exit_status: int


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def healthz_ok(port: int) -> bool:
    """One raw ``GET /healthz``; True on a 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return conn.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """Every descendant process of ``pid``."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
        except OSError:
            continue
        kids = [int(kid) for kid in text.split()]
        found += kids
        pending += kids
    return found


def is_worker(pid: int) -> bool:
    """A hook worker is started as ``... __worker__`` or ``-m symbox.sandbox.worker``."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"__worker__" in argv or b"symbox.sandbox.worker" in argv


def start_once(
    binary: Path, workdir: Path, env: dict[str, str], idle: float, data: Path | None = None
) -> Start:
    """Start the executable, time it to the first 200, read its idle memory, stop it.

    On a fresh data folder, removed after, unless ``data`` names the one to use.
    """
    data_dir = data or Path(tempfile.mkdtemp(prefix="data-", dir=workdir))
    port = free_port()
    argv = [str(binary), "run", "--config", str(workdir / "config.hcl")]
    argv += ["--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not healthz_ok(port):
            if process.poll() is not None:
                raise RuntimeError(f"{binary} exited with status {process.returncode}")
            if time.perf_counter() - started > START_TIMEOUT:
                raise RuntimeError(f"{binary} did not answer /healthz in {START_TIMEOUT:g} s")
            time.sleep(0.002)
        seconds = time.perf_counter() - started
        time.sleep(idle)
        tree = children(process.pid)
        workers = [pid for pid in tree if is_worker(pid)]
        # A onefile worker is two processes as well: its bootloader and the interpreter.
        worker_tree = {*workers, *(kid for worker in workers for kid in children(worker))}
        # A onefile server is the bootloader and its child: count every non-worker process.
        server = [process.pid, *(pid for pid in tree if pid not in worker_tree)]
        server_kib = sum(proc_status_kib(pid, "VmRSS") for pid in server)
        worker_kib = sum(proc_status_kib(pid, "VmRSS") for pid in worker_tree)
        process.send_signal(signal.SIGTERM)
        status = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if data is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    return Start(seconds, server_kib / 1024, worker_kib / 1024, len(workers), status)


def version_seconds(binary: Path, workdir: Path, env: dict[str, str]) -> float:
    """Seconds for ``BINARY --version`` from spawn to exit."""
    started = time.perf_counter()
    subprocess.run(
        [str(binary), "--version"], cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description="start-up, size and idle memory of the binary")
    parser.add_argument("--binary", type=Path, default=ROOT / "dist" / "symbox")
    parser.add_argument("--starts", type=int, default=10, help="measured starts (default 10)")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before reading RSS")
    parser.add_argument("--onefile", action="store_true", help="the binary is a onefile build")
    parser.add_argument("--config", type=Path, default=ROOT / "config.hcl", help="config to run")
    parser.add_argument(
        "--restart", action="store_true", help="every start on the same data folder"
    )
    args = parser.parse_args(argv)
    binary = args.binary.resolve()
    print_machine()
    with tempfile.TemporaryDirectory(prefix="symbox-bench-") as folder:
        workdir = Path(folder)
        shutil.copy(args.config, workdir / "config.hcl")
        shutil.copytree(args.config.resolve().parent / "hooks", workdir / "hooks")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "SYMBOX_GRANT_SECRET": "bench-secret",
            "SYMBOX_CACHE_DIR": str(workdir / "cache"),
        }
        rows: list[tuple[str, Start]] = []
        data = workdir / "data" if args.restart else None
        if not args.onefile:
            first = start_once(binary, workdir, env, args.idle, data)
            rows.append(("first start (unpacks)", first))
        else:
            start_once(binary, workdir, env, 0.0, data)  # warms the page cache like the others
        starts = [start_once(binary, workdir, env, args.idle, data) for _ in range(args.starts)]
        rows += [(f"start {number}", start) for number, start in enumerate(starts, 1)]
        floor = statistics.median(
            version_seconds(binary, workdir, env) for _ in range(max(args.starts, 1))
        )
    size_mb = binary.stat().st_size / 1e6
    median = statistics.median(start.seconds for start in starts)
    rss = statistics.median(start.server_rss_mib for start in starts)
    kind = "onefile" if args.onefile else "packed onedir"
    folder = "one data folder, restarted" if args.restart else "a fresh data folder each"
    print(f"\nbinary {binary} ({kind}; {folder})\n")
    print("| start | to /healthz 200 s | server RSS MiB | workers | workers RSS MiB | exit |")
    print("|---|---|---|---|---|---|")
    for name, start in rows:
        print(
            f"| {name} | {start.seconds:.3f} | {start.server_rss_mib:.1f} | {start.workers} "
            f"| {start.workers_rss_mib:.1f} | {start.exit_status} |"
        )
    print(
        f"\nfloor: `{binary.name} --version`, median of {args.starts}: {floor:.3f} s; "
        f"start ÷ floor = {median / floor:.2f}"
    )
    print()
    print("| measure | target | measured | verdict |")
    print("|---|---|---|---|")
    for name, target, value, unit in (
        ("start to /healthz 200, median", TARGET_START_SECONDS, median, "s"),
        ("size", TARGET_SIZE_MB, size_mb, "MB"),
        ("idle RSS (server), median", TARGET_RSS_MIB, rss, "MiB"),
    ):
        verdict = "pass" if value <= target else "FAIL"
        print(f"| {name} | <= {target:g} {unit} | {value:.2f} {unit} | {verdict} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
