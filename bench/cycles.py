"""Request -> approve -> escalate cycles per second over loopback HTTP, against the floor.

``python -m bench.cycles [--clients 8 16 32] [--duration 15] [--loop asyncio|uvloop]
[--no-floor] [--real]``

symbox runs in its own process with durable commits (``synchronous=FULL``): by default
``python -m bench.server`` (the real App with a no-op strategy); with ``--real`` the real
``python -m symbox run`` with its ``http`` strategy posting to ``bench.receiver``. The
clients run in one or more other processes, each client with its own connection. A cycle
is one bot's request for a fresh user followed by another bot's approval, which answers once the
grant is escalated. Only traffic to 127.0.0.1 is sent.

At each level the same clients first drive ``python -m bench.floor`` (a bare Starlette
route on the same Hypercorn settings and event loop: what the framework alone allows), so
every symbox figure comes with its ratio to a floor measured minutes apart on the same
machine. ``--no-floor`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import anyio

from bench.common import (
    APPROVER_BOT,
    FLOW,
    NOOP_HOOKS,
    REQUESTER_BOT,
    TARGET,
    bench_env,
    issue_bot_tokens,
    print_machine,
    proc_cpu_seconds,
    summary_ms,
    write_config,
)
from bench.rawhttp import RawHttp

TARGET_CYCLES_PER_SECOND = 600.0
START_TIMEOUT = 30.0


@dataclass
class ClientResult:
    """What one client process measured in the measurement window."""

    request: list[float] = field(default_factory=list)
    approve: list[float] = field(default_factory=list)
    cycle: list[float] = field(default_factory=list)
    errors: int = 0
    # Cycles completed from the start, warm-up included: the server's CPU covers them all.
    completed: int = 0
    reconnects: int = 0
    cpu_seconds: float = 0.0


async def _client(
    http: RawHttp,
    tokens: tuple[str, str],
    name: str,
    measure_from: float,
    stop_at: float,
    result: ClientResult,
) -> None:
    number = 0
    while (started := time.perf_counter()) < stop_at:
        number += 1
        body = {
            "flow": FLOW,
            "user_email": f"{name}-{number}@example.com",
            "flow_inputs": {"reason": "bench", "duration": "1h", "target": TARGET},
        }
        status, answer = await http.post("/api/v1/events/request", body, tokens[0])
        requested = time.perf_counter()
        if status != 201:
            result.errors += 1
            continue
        status, answer = await http.post(
            "/api/v1/events/approve", {"run_id": answer["run_id"]}, tokens[1]
        )
        approved = time.perf_counter()
        if status != 200 or answer["status"] != "escalated":
            result.errors += 1
            continue
        result.completed += 1
        if started >= measure_from and approved <= stop_at:
            result.request.append(requested - started)
            result.approve.append(approved - requested)
            result.cycle.append(approved - started)


async def _clients(
    base_url: str, tokens: tuple[str, str], names: list[str], warmup: float, duration: float
) -> ClientResult:
    result = ClientResult()
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + duration
    address = base_url.removeprefix("http://")
    host, _, port = address.partition(":")
    async with anyio.create_task_group() as group:
        for name in names:

            async def one(name: str = name) -> None:
                async with RawHttp(host, int(port)) as http:
                    await _client(http, tokens, name, measure_from, stop_at, result)
                    result.reconnects += http.reconnects

            group.start_soon(one)
    return result


def run_clients(
    base_url: str, tokens: tuple[str, str], names: list[str], warmup: float, duration: float
) -> ClientResult:
    """Run ``names`` clients in this process (a worker process); return what they measured."""
    cpu_before = time.process_time()
    result = anyio.run(_clients, base_url, tokens, names, warmup, duration)
    result.cpu_seconds = time.process_time() - cpu_before
    return result


@contextmanager
def started_process(
    argv: list[str], ready: str, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[int, str]]:
    """Start ``argv`` (``env`` added to the environment); yield its pid and ready line.

    The ready line is the first stdout/stderr line containing ``ready``.
    """
    with open(log_path, "w+") as log:
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=log, text=True, env={**bench_env(), **(env or {})}
        )
        try:
            line = _wait_line(process, " ".join(argv), ready, log_path)
            yield process.pid, line
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_line(process: subprocess.Popen[str], command: str, ready: str, log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        for text in (process.stdout.readline(), *log_path.read_text().splitlines()):
            if ready in text:
                return text
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{command} did not say {ready!r}: {log_path.read_text()}")


@dataclass(frozen=True)
class Setup:
    """What every level runs against: the server, its commits, loop and diagnostics."""

    real: bool = False
    synchronous: str = "FULL"
    loop: str = "uvloop"
    profile: Path | None = None
    sample: Path | None = None
    switch: float | None = None
    hooks: str | None = None


@contextmanager
def _symbox(folder: Path, setup: Setup, profile: Path | None) -> Iterator[tuple[int, str]]:
    """Start symbox on a fresh data folder; yield its pid and base URL."""
    data_dir = folder / "data"
    if setup.real:
        with started_process(
            [sys.executable, "-m", "bench.receiver"], "port", folder / "receiver.log"
        ) as (_, line):
            receiver = f"http://127.0.0.1:{line.split()[1]}/grants"
            config = write_config(folder, receiver, setup.hooks)
            argv = [sys.executable, "-m", "symbox", "run", "--config", str(config)]
            argv += ["--data-dir", str(data_dir), "--listen", "127.0.0.1:0"]
            argv += ["--event-loop", setup.loop]
            with started_process(argv, "symbox is ready", folder / "symbox.log") as (pid, ready):
                port = json.loads(ready)["port"]
                yield pid, f"http://127.0.0.1:{port}"
        return
    config = write_config(folder, hooks=setup.hooks)
    argv = [sys.executable, "-m", "bench.server", "--config", str(config)]
    argv += ["--data-dir", str(data_dir), "--synchronous", setup.synchronous]
    argv += ["--loop", setup.loop]
    if profile is not None:
        argv += ["--cprofile", str(profile.resolve())]
    if setup.sample is not None:
        argv += ["--sample", str(setup.sample.resolve())]
    if setup.switch is not None:
        argv += ["--switch-interval", str(setup.switch)]
    with started_process(argv, "port", folder / "server.log") as (pid, line):
        yield pid, f"http://127.0.0.1:{line.split()[1]}"


@contextmanager
def _floor(folder: Path, setup: Setup) -> Iterator[tuple[int, str]]:
    """Start the bare Starlette floor; yield its pid and base URL."""
    argv = [sys.executable, "-m", "bench.floor", "--loop", setup.loop]
    with started_process(argv, "port", folder / "floor.log") as (pid, line):
        yield pid, f"http://127.0.0.1:{line.split()[1]}"


def _drive(
    pid: int,
    base_url: str,
    tokens: tuple[str, str],
    clients: int,
    procs: int,
    warmup: float,
    duration: float,
) -> tuple[list[ClientResult], float]:
    """Run the clients against ``base_url``; return their results and the server's CPU."""
    names = [f"c{i}" for i in range(clients)]
    shares = [names[i::procs] for i in range(procs)]
    cpu_before = proc_cpu_seconds(pid)
    with ProcessPoolExecutor(procs, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(run_clients, base_url, tokens, share, warmup, duration) for share in shares
        ]
        results = [future.result() for future in futures]
    return results, proc_cpu_seconds(pid) - cpu_before


def _row(
    clients: int, results: list[ClientResult], server_cpu: float, warmup: float, duration: float
) -> dict[str, Any]:
    request = [x for r in results for x in r.request]
    approve = [x for r in results for x in r.approve]
    completed = sum(r.completed for r in results)
    req, appr = summary_ms(request), summary_ms(approve)
    return {
        "clients": clients,
        "cycles_per_s": len(request) / duration,
        "request_p50_ms": req["p50"],
        "request_p99_ms": req["p99"],
        "approve_p50_ms": appr["p50"],
        "approve_p99_ms": appr["p99"],
        "errors": sum(r.errors for r in results),
        "reconnects": sum(r.reconnects for r in results),
        # Percent of one core over warm-up and measurement (the server's CPU is per level).
        "server_cpu_pct": 100 * server_cpu / (warmup + duration),
        "client_cpu_pct": 100 * sum(r.cpu_seconds for r in results) / (warmup + duration),
        # Server CPU per cycle, over every cycle the CPU was spent on (warm-up included).
        "cpu_ms_per_cycle": 1000 * server_cpu / completed if completed else float("nan"),
    }


def measure(
    clients: int, procs: int, warmup: float, duration: float, setup: Setup
) -> dict[str, Any]:
    """Run one load level against a fresh symbox and return its numbers."""
    profile = None if setup.profile is None else setup.profile.with_suffix(f".{clients}")
    with tempfile.TemporaryDirectory(prefix="symbox-bench-") as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()
        requester, approver = anyio.run(
            issue_bot_tokens, folder / "data", REQUESTER_BOT, APPROVER_BOT
        )
        tokens = (requester, approver)
        with _symbox(folder, setup, profile) as (pid, base_url):
            results, server_cpu = _drive(pid, base_url, tokens, clients, procs, warmup, duration)
        log = (folder / ("symbox.log" if setup.real else "server.log")).read_text()
        threads = [line for line in log.splitlines() if line.startswith("thread CPU")]
    row = _row(clients, results, server_cpu, warmup, duration)
    row["threads"] = " ".join(threads)
    return row


def measure_floor(
    clients: int, procs: int, warmup: float, duration: float, setup: Setup
) -> dict[str, Any]:
    """Run one load level against the bare framework and return its numbers."""
    with (
        tempfile.TemporaryDirectory(prefix="symbox-floor-") as tmp,
        _floor(Path(tmp), setup) as (
            pid,
            base_url,
        ),
    ):
        results, server_cpu = _drive(pid, base_url, ("a", "b"), clients, procs, warmup, duration)
    return _row(clients, results, server_cpu, warmup, duration)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "-"


def main(argv: list[str] | None = None) -> int:
    """Run each load level (the floor, then symbox) and print Markdown tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.cycles")
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument(
        "--loop",
        default="uvloop",
        choices=["asyncio", "uvloop"],
        help="the event loop of symbox and of the floor (symbox run's default is uvloop)",
    )
    parser.add_argument("--no-floor", action="store_true", help="measure symbox only")
    parser.add_argument(
        "--real", action="store_true", help="symbox run + http strategy + bench.receiver"
    )
    parser.add_argument(
        "--synchronous",
        default="FULL",
        choices=["FULL", "NORMAL"],
        help="bench.server only; FULL is symbox's default and the benchmark's setting",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="bench.server only: cProfile the server's event loop into PROFILE.<clients>",
    )
    parser.add_argument(
        "--sample",
        type=Path,
        help="bench.server only: sample every server thread's stack into SAMPLE",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="bench.server only, diagnostic: the server's sys.setswitchinterval",
    )
    parser.add_argument(
        "--hooks",
        action="store_true",
        help="the flow has on_request and on_approve hooks that return nothing",
    )
    args = parser.parse_args(argv)
    if args.real and args.synchronous != "FULL":
        parser.error("--real runs symbox run, which always commits with synchronous=FULL")
    setup = Setup(
        real=args.real,
        synchronous=args.synchronous,
        loop=args.loop,
        profile=args.profile,
        sample=args.sample,
        switch=args.switch_interval,
        hooks=NOOP_HOOKS if args.hooks else None,
    )
    print_machine()
    mode = "symbox run + http strategy" if args.real else "bench.server (no-op strategy)"
    print(f"server   {mode}, synchronous={args.synchronous}; client procs: {args.client_procs}")
    print(f"loop     {args.loop} (symbox and the floor)")
    print(f"hooks    {'on_request + on_approve, in the sandbox' if args.hooks else 'none'}")
    print()
    print(
        "| clients | cycles/s | floor req/s | floor cycles/s | symbox ÷ floor "
        "| CPU ms/cycle symbox / floor | CPU ratio | request p50 / p99 ms "
        "| approve p50 / p99 ms | errors | server CPU | client CPU | target 600/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes: list[str] = []
    for clients in args.clients:
        floor = (
            None
            if args.no_floor
            else measure_floor(clients, args.client_procs, args.warmup, args.duration, setup)
        )
        row = measure(clients, args.client_procs, args.warmup, args.duration, setup)
        verdict = "pass" if row["cycles_per_s"] >= TARGET_CYCLES_PER_SECOND else "FAIL"
        floor_cycles = 0.0 if floor is None else floor["cycles_per_s"]
        floor_cpu = float("nan") if floor is None else floor["cpu_ms_per_cycle"]
        print(
            f"| {clients} | {row['cycles_per_s']:.0f} "
            f"| {'-' if floor is None else f'{2 * floor_cycles:.0f}'} "
            f"| {'-' if floor is None else f'{floor_cycles:.0f}'} "
            f"| {_ratio(row['cycles_per_s'], floor_cycles)} "
            f"| {row['cpu_ms_per_cycle']:.2f} / {floor_cpu:.2f} "
            f"| {'-' if floor is None else _ratio(row['cpu_ms_per_cycle'], floor_cpu)} "
            f"| {row['request_p50_ms']:.1f} / {row['request_p99_ms']:.1f} "
            f"| {row['approve_p50_ms']:.1f} / {row['approve_p99_ms']:.1f} "
            f"| {row['errors']:.0f} | {row['server_cpu_pct']:.0f}% "
            f"| {row['client_cpu_pct']:.0f}% | {verdict} |",
            flush=True,
        )
        if floor is not None:
            notes.append(
                f"{clients} clients, floor: server CPU {floor['server_cpu_pct']:.0f}%, client CPU"
                f" {floor['client_cpu_pct']:.0f}%, errors {floor['errors']},"
                f" reconnects {floor['reconnects']}"
            )
        notes.append(f"{clients} clients, symbox: reconnects {row['reconnects']}")
        if row["threads"]:
            notes.append(f"{clients} clients, server {row['threads']}")
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
