"""Lateness of de-escalation after ``expires_at`` with 100,000 active grants.

``python -m bench.expiry [--scenario spread|burst] [--grants 100000] [--window 60]
[--cprofile]``

The grants are stored through the writer as escalated runs (engine transitions, events;
audit records too with ``--seed-audit``), then the real App runs in-process with the real
clock and a no-op strategy. ``spread``: ``--due`` grants (default all) expire evenly over
``--window`` seconds. ``burst``: ``--due`` grants (default 10,000) expire at the same
instant. The other grants stay active and armed an hour longer. Lateness of each
revocation is measured three ways: when the strategy was called; the ``deescalate``
event's ``at`` (taken just before its commit is queued); and when the committed event
became visible to a separate process polling the database every ``--poll`` seconds (the
commit time, give or take the poll interval). ``--cprofile`` profiles the event loop and the
writer's thread apart while the grants are revoked, and prints where each spent its time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import anyio

from bench.common import (
    STRATEGY,
    NoopStrategy,
    print_machine,
    read_config,
    seed_active_grants,
    summary_ms,
    write_config,
)
from bench.sampler import thread_cpu_report, thread_cpu_seconds
from symbox.app import DATABASE_NAME, Options, running
from symbox.config.model import Config
from symbox.store.writer import Writer

TARGET_P99_SECONDS = 0.2
# Seconds allowed after the last expiry for the revocations to finish.
DRAIN_LIMIT = 30.0
# Start-up allowance on top of the seeding estimate before the first grant expires.
START_MARGIN = 12.0
# Seeding slows down as the tables grow; the 1,000-grant calibration underestimates it.
SEED_SLOWDOWN = 1.6


def last_event_rowid(database: Path) -> int:
    """The highest rowid of the events table (events after it are new)."""
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0])


def poll_commits(
    database: Path, after: int, out: Path, expected: int, deadline: float, poll: float
) -> None:
    """In its own process: note when each committed ``deescalate`` event becomes visible."""
    seen: list[tuple[str, float]] = []
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    last = after
    try:
        while len(seen) < expected and time.time() < deadline:
            rows = conn.execute(
                "SELECT rowid, run_id, name FROM events WHERE rowid > ? ORDER BY rowid", (last,)
            ).fetchall()
            now = time.time()
            for rowid, run_id, name in rows:
                if name == "deescalate":
                    seen.append((run_id, now))
                last = rowid
            time.sleep(poll)
    finally:
        conn.close()
    out.write_text("".join(f"{run_id} {at}\n" for run_id, at in seen))


def _seconds_per_grant(folder: Path, config: Config, seed_audit: bool) -> float:
    """Seed 1,000 grants in a scratch folder to estimate how long seeding takes."""
    scratch = folder / "calibrate"
    far = time.time() + 86_400
    seeded = anyio.run(lambda: seed_active_grants(scratch, config, [far] * 1000, audit=seed_audit))
    return seeded.seconds / 1000


def _histogram(text: str) -> str:
    """The lateness histogram's cumulative buckets from the metrics text, compactly."""
    buckets = re.findall(r'symbox_deescalation_lateness_seconds_bucket\{le="([^"]+)"\} (\d+)', text)
    return ", ".join(f"<={le}s: {count}" for le, count in buckets)


def run(args: argparse.Namespace) -> int:
    """Seed, serve, measure, print."""
    print_machine()
    if args.switch_interval is not None:
        # How long a thread waiting for the GIL waits before asking for it: the writer's
        # thread asks after every statement.
        sys.setswitchinterval(args.switch_interval)
        print(f"switch interval {args.switch_interval * 1000:g} ms")
    with tempfile.TemporaryDirectory(prefix="symbox-bench-") as tmp:
        folder = Path(tmp)
        config = read_config(write_config(folder))
        per_grant = _seconds_per_grant(folder, config, args.seed_audit)
        lead = per_grant * args.grants * SEED_SLOWDOWN + START_MARGIN
        base = time.time() + lead
        default_due = args.grants if args.scenario == "spread" else 10_000
        due = min(args.due or default_due, args.grants)
        if args.scenario == "spread":
            expiries = [base + args.window * i / due for i in range(due)]
        else:
            expiries = [base] * due
        # The other grants stay active (and armed) for an hour after the measured ones.
        expiries += [base + 3600.0] * (args.grants - due)
        data_dir = folder / "data"
        seeded = anyio.run(
            lambda: seed_active_grants(data_dir, config, expiries, audit=args.seed_audit)
        )
        ids = seeded.run_ids
        print(f"seeded   {args.grants} escalated runs in {seeded.seconds:.1f} s", flush=True)
        last_due = max(expiries[:due])
        deadline = last_due + DRAIN_LIMIT
        commits = folder / "commits.txt"
        context = get_context("spawn")
        poller = context.Process(
            target=poll_commits,
            args=(
                data_dir / DATABASE_NAME,
                last_event_rowid(data_dir / DATABASE_NAME),
                commits,
                due,
                deadline,
                args.poll,
            ),
        )
        poller.start()
        strategy = NoopStrategy(record=True)
        served = anyio.run(
            _serve,
            config,
            data_dir,
            strategy,
            due,
            min(expiries[:due]),
            deadline,
            args.concurrency,
            args.cprofile,
        )
        poller.join()
        expires = dict(zip(ids, expiries, strict=True))
        with sqlite3.connect(data_dir / DATABASE_NAME) as conn:
            events = conn.execute(
                "SELECT run_id, at FROM events WHERE name = 'deescalate'"
            ).fetchall()
        visible = [line.split() for line in commits.read_text().splitlines() if line.strip()]
    early = sum(1 for at in expiries[:due] if at < served.ready_at)
    # A grant not revoked by the deadline counts as infinitely late.
    missing = [float("inf")]
    strategy_late = [at - expires[run_id] for run_id, at in strategy.deescalated.items()]
    event_late = [float(at) - expires[run_id] for run_id, at in events]
    commit_late = [float(at) - expires[run_id] for run_id, at in visible]
    commit_times = sorted(float(at) for _, at in visible)
    first_due = min(expiries[:due])
    span = (commit_times[-1] - first_due) if commit_times else float("nan")
    print(
        f"ready    {served.ready_at - base:+.2f} s relative to the first expiry; "
        f"armed {served.armed}"
    )
    if early:
        print(f"WARNING  {early} grants expired before symbox was ready; lateness is inflated")
    print()
    print(f"scenario {args.scenario}: {due} of {args.grants} active grants expire", end=" ")
    if args.scenario == "spread":
        print(f"evenly over {args.window:g} s ({due / args.window:.0f}/s needed)")
    else:
        print("at the same instant")
    print()
    print("| lateness measured at | count | p50 ms | p99 ms | max ms | target p99 <= 200 ms |")
    print("|---|---|---|---|---|---|")
    for label, values in (
        ("strategy call", strategy_late),
        ("deescalate event `at`", event_late),
        (f"commit visible (poll {args.poll * 1000:.0f} ms)", commit_late),
    ):
        count = len(values)
        stats = summary_ms(values + missing * (due - count))
        verdict = "pass" if stats["p99"] <= TARGET_P99_SECONDS * 1000 else "FAIL"
        print(
            f"| {label} | {count} | {_ms(stats['p50'])} | {_ms(stats['p99'])} "
            f"| {_ms(stats['max'])} | {verdict} |"
        )
    print()
    print(
        f"throughput {len(commit_times)} revocations committed within {span:.1f} s of the "
        f"first expiry: {len(commit_times) / span:.0f}/s"
    )
    print(f"histogram symbox_deescalation_lateness_seconds: {_histogram(served.metrics_text)}")
    print(f"process CPU {served.cpu_percent:.0f}% of one core while serving; {served.threads}")
    print(f"from the first expiry to 1 s after the last revocation, {served.revoking}")
    if served.profiles:
        print()
        print(served.profiles)
    if len(commit_times) < due:
        print(f"NOT DONE {due - len(commit_times)} grants were not revoked {DRAIN_LIMIT:g} s")
        print("         after the last expiry (counted as infinitely late above)")
    return 0


def _ms(value: float) -> str:
    return "never" if value == float("inf") else f"{value:.0f}"


@dataclass(frozen=True)
class Served:
    """What the in-process App run observed."""

    ready_at: float
    armed: int
    metrics_text: str
    cpu_percent: float
    threads: str
    # Each thread's CPU from the first expiry on: which of them the revocations wait for.
    revoking: str
    profiles: str = ""


def _profile_report(name: str, profile: cProfile.Profile, lines: int = 30) -> str:
    """The functions ``profile`` saw take the most time of their own, as text."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    return f"== cProfile: {name} (sorted by own time)\n{out.getvalue()}"


async def _serve(
    config: Config,
    data_dir: Path,
    strategy: NoopStrategy,
    due: int,
    first_due: float,
    deadline: float,
    concurrency: int | None = None,
    profile: bool = False,
) -> Served:
    """Run the App until ``due`` revocations happened or ``deadline``; report what it saw."""
    options = Options(data_dir=data_dir, port=0)
    if concurrency is not None:
        options = replace(options, timer_concurrency=concurrency)
    async with running(config, options, strategies={STRATEGY: strategy}) as app:
        ready_at = time.time()
        armed = len(app.schedule)
        loop_profile, writer_profile = cProfile.Profile(), cProfile.Profile()
        if profile:
            _profile_writer(app.writer, writer_profile)
            loop_profile.enable()
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        await anyio.sleep(max(0.0, first_due - time.time()))
        threads_before = thread_cpu_seconds()
        # Poll rather than wait on an event: the strategy must stay a plain no-op.
        while True:
            if len(strategy.deescalated) >= due or time.time() >= deadline:
                break
            await anyio.sleep(0.1)
        # Let the last commits land before reading the histogram and stopping.
        await anyio.sleep(1.0)
        cpu = (time.process_time() - cpu_before) / (time.perf_counter() - wall_before)
        loop_profile.disable()
        profiles = (
            _profile_report("event loop", loop_profile)
            + _profile_report("writer thread", writer_profile)
            if profile
            else ""
        )
        return Served(
            ready_at,
            armed,
            await app.metrics_text(),
            100 * cpu,
            thread_cpu_report(),
            thread_cpu_report(threads_before),
            profiles,
        )


def _profile_writer(writer: Writer, profile: cProfile.Profile) -> None:
    """Profile every batch the writer runs (on its own thread, which cProfile sees apart)."""
    run_batch = writer._run_batch

    def profiled(batch: Any) -> Any:
        profile.enable()
        try:
            return run_batch(batch)
        finally:
            profile.disable()

    # A bench-only wrap of a private method: the writer has no profiling of its own.
    setattr(writer, "_run_batch", profiled)  # noqa: B010


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.expiry")
    parser.add_argument("--scenario", choices=["spread", "burst"], default="spread")
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=60.0, help="spread: seconds")
    parser.add_argument(
        "--due",
        type=int,
        help="grants that expire during the run (default: all for spread, 10000 for burst)",
    )
    parser.add_argument("--poll", type=float, default=0.01, help="commit poll interval")
    parser.add_argument(
        "--concurrency", type=int, help="the timer's due runs in flight (default: symbox's)"
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="sys.setswitchinterval for the run, in seconds (default: Python's 0.005)",
    )
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="profile the event loop and the writer's thread while revoking (slower)",
    )
    parser.add_argument(
        "--seed-audit",
        action="store_true",
        help="also seal the seeded runs' audit records (about 40%% slower seeding)",
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
