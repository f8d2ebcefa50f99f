"""A backlog of due revocations against a slow, rate-limited target system.

``python -m bench.ratelimit [--backlog 2000] [--rate 20] [--limit 20] [--concurrency 4]``

``--backlog`` grants are stored as escalated runs (``bench.common.seed_active_grants``)
whose expiries fall within ``--spread`` seconds, a few seconds after the real App has
started in-process with the real clock. Their strategy is the tests' fake target system
(``tests.fakes.throttling_strategy``): each call takes ``--latency`` (100 ms), and it
answers "throttled" (as an HTTP 429 would) to any call beyond ``--limit`` calls started in
the last second. The strategy's settings say ``max_calls_per_second = --rate`` and
``max_concurrency = --concurrency``. Reported: the calls per second achieved, the most
accepted calls in any one-second window, the throttling answers seen, whether the
revocations reached the target oldest-due first, and each revocation's lateness (the
accepted call, and the committed ``deescalate`` event, against the grant's expiry) next
to the bound backlog / rate + 1 s. ``--rate`` above ``--limit`` shows the back-off.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from bench.common import STRATEGY, print_machine, read_config, seed_active_grants, summary_ms
from symbox.app import DATABASE_NAME, Options, running
from symbox.clock import SystemClock
from symbox.config.model import Config
from tests.fakes.configs import access_config
from tests.fakes.throttling_strategy import ThrottlingStrategy

# Seconds from the start of seeding to the first expiry: seeding and start-up fit in it.
LEAD = 12.0
# Seconds allowed past the bound for the backlog to drain before giving up.
DRAIN_MARGIN = 60.0


def write_limited_config(folder: Path, rate: float | None, concurrency: int) -> Path:
    """The bench's access config, its strategy limited to ``rate`` calls/s and ``concurrency``
    (``rate`` None: no limits, as before strategies had them)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = access_config("http://127.0.0.1:9/grants")
    if rate is not None:
        text = text.replace(
            'signing_secret = env("SYMBOX_GRANT_SECRET")',
            'signing_secret = env("SYMBOX_GRANT_SECRET")\n'
            f"    max_calls_per_second = {rate:g}\n"
            f"    max_concurrency = {concurrency}",
            1,
        )
    path = folder / "config.hcl"
    path.write_text(text)
    return path


@dataclass(frozen=True)
class Served:
    """What the in-process App run observed."""

    ready_at: float
    metrics_text: str


async def _serve(
    config: Config, data_dir: Path, strategy: ThrottlingStrategy, due: int, deadline: float
) -> Served:
    """Run the App until ``due`` revocations reached the strategy or ``deadline``."""
    options = Options(data_dir=data_dir, port=0)
    async with running(config, options, strategies={STRATEGY: strategy}) as app:
        ready_at = time.time()
        # Poll rather than wait on an event: the fake stays as the tests use it.
        while len(strategy.calls) < due and time.time() < deadline:  # noqa: ASYNC110
            await anyio.sleep(0.1)
        # Let the last calls finish and their commits land.
        await anyio.sleep(1.0)
        return Served(ready_at, await app.metrics_text())


def _out_of_order(run_ids: list[str], expires: dict[str, float]) -> tuple[int, int, float]:
    """Calls that reached the target after one due later: how many, the position of the
    last of them, and the most any was overtaken by (seconds of due time)."""
    late, last, most = 0, 0, 0.0
    latest = float("-inf")
    for position, run_id in enumerate(run_ids, start=1):
        due = expires[run_id]
        if due < latest:
            late, last, most = late + 1, position, max(most, latest - due)
        latest = max(latest, due)
    return late, last, most


def _metric(text: str, name: str) -> str:
    """The value of a one-series metric line, or 0."""
    for line in text.splitlines():
        if line.startswith(name):
            return line.rsplit(" ", 1)[1]
    return "0"


def run(args: argparse.Namespace) -> int:
    """Seed, serve, measure, print."""
    print_machine()
    bound = args.backlog / min(args.rate, args.limit) + 1.0
    with tempfile.TemporaryDirectory(prefix="symbox-bench-") as tmp:
        folder = Path(tmp)
        rate = None if args.no_limits else args.rate
        config = read_config(write_limited_config(folder, rate, args.concurrency))
        base = time.time() + LEAD
        expiries = [base + args.spread * i / args.backlog for i in range(args.backlog)]
        data_dir = folder / "data"
        seeded = anyio.run(lambda: seed_active_grants(data_dir, config, expiries, audit=False))
        print(f"seeded   {args.backlog} escalated runs in {seeded.seconds:.1f} s", flush=True)
        strategy = ThrottlingStrategy(
            SystemClock(), latency=args.latency, limit=args.limit, retry_after=args.retry_after
        )
        deadline = base + args.spread + bound + DRAIN_MARGIN
        served = anyio.run(_serve, config, data_dir, strategy, args.backlog, deadline)
        expires = dict(zip(seeded.run_ids, expiries, strict=True))
        with sqlite3.connect(data_dir / DATABASE_NAME) as conn:
            events = conn.execute(
                "SELECT run_id, at FROM events WHERE name = 'deescalate'"
            ).fetchall()
    calls = strategy.calls
    if served.ready_at > base:
        print(f"WARNING  symbox was ready {served.ready_at - base:.1f} s after the first expiry")
    starts = [call.at for call in calls]
    span = max(starts) - min(starts) if len(starts) > 1 else float("nan")
    order, last_late, overtaken = _out_of_order([call.run_id for call in calls], expires)
    # A grant not revoked by the deadline counts as infinitely late.
    missing = [float("inf")] * (args.backlog - len(calls))
    call_late = [call.at + args.latency - expires[call.run_id] for call in calls] + missing
    event_late = [float(at) - expires[run_id] for run_id, at in events]
    event_late += [float("inf")] * (args.backlog - len(events))
    print()
    settings = (
        "no call limits"
        if args.no_limits
        else f"max_calls_per_second = {args.rate:g}, max_concurrency = {args.concurrency}"
    )
    print(
        f"backlog  {args.backlog} revocations due within {args.spread:g} s; strategy "
        f"{settings}; "
        f"the target: {args.latency * 1000:.0f} ms a call, throttles above {args.limit} "
        "calls in any 1 s"
    )
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| revocations done | {len(calls)} of {args.backlog} |")
    print(f"| calls/s achieved (first to last call) | {(len(calls) - 1) / span:.1f} |")
    print(f"| most calls in any 1 s window | {strategy.max_in_window()} |")
    print(f"| throttling answers seen | {len(strategy.refused)} |")
    throttled = _metric(served.metrics_text, "symbox_strategy_throttled_total")
    print(f"| symbox_strategy_throttled_total | {throttled} |")
    where = f" (the last at call {last_late}; overtaken by {overtaken * 1000:.0f} ms)"
    print(f"| calls out of due order | {order}{where if order else ''} |")
    for label, values in (("call done", call_late), ("deescalate event `at`", event_late)):
        stats = summary_ms(values)
        verdict = "pass" if stats["p99"] <= bound * 1000 else "FAIL"
        print(
            f"| lateness at {label}: p50 / p99 / max s | {stats['p50'] / 1000:.1f} / "
            f"{stats['p99'] / 1000:.1f} / {stats['max'] / 1000:.1f} "
            f"(bound {bound:.0f} s: {verdict}) |"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.ratelimit")
    parser.add_argument("--backlog", type=int, default=2000, help="revocations due")
    parser.add_argument("--spread", type=float, default=1.0, help="seconds the expiries span")
    parser.add_argument("--rate", type=float, default=20.0, help="max_calls_per_second")
    parser.add_argument("--concurrency", type=int, default=4, help="max_concurrency")
    parser.add_argument("--limit", type=int, default=20, help="the target's calls per second")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per call")
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="leave the strategy's settings without call limits (symbox before them)",
    )
    parser.add_argument(
        "--retry-after", type=float, help="the Retry-After the target's refusals carry"
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
