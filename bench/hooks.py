"""Per-call cost of a hook through the worker pool: ``python -m bench.hooks``."""

from __future__ import annotations

import argparse
import sys
import time

import anyio

from bench.common import print_machine, summary_ms
from symbox.sandbox.pool import HookPool

TRIVIAL = "def on_request(event):\n    return None\n"
TARGET_P50_MS = 0.5
TARGET_P99_MS = 2.0


async def measure(calls: int, concurrency: int, workers: int) -> tuple[list[float], float]:
    """Time ``calls`` trivial hook calls with ``concurrency`` callers; return latencies, wall."""
    latencies: list[float] = []
    async with HookPool(size=workers) as pool:
        for _ in range(50):  # warm the workers' compile caches
            await pool.call(TRIVIAL, "hooks/bench.py", "on_request", ({},))
        started = time.perf_counter()

        async def caller(count: int) -> None:
            for _ in range(count):
                before = time.perf_counter()
                await pool.call(TRIVIAL, "hooks/bench.py", "on_request", ({},))
                latencies.append(time.perf_counter() - before)

        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(caller, calls // concurrency)
        return latencies, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table of hook-call latency at a few concurrency levels."""
    parser = argparse.ArgumentParser(prog="python -m bench.hooks")
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print_machine()
    print()
    print("| callers | calls/s | p50 ms | p99 ms | max ms | target p50 <= 0.5, p99 <= 2 |")
    print("|---|---|---|---|---|---|")
    for concurrency in (1, 2, 8):
        latencies, wall = anyio.run(measure, args.calls, concurrency, args.workers)
        stats = summary_ms(latencies)
        ok = stats["p50"] <= TARGET_P50_MS and stats["p99"] <= TARGET_P99_MS
        print(
            f"| {concurrency} | {len(latencies) / wall:.0f} | {stats['p50']:.3f} "
            f"| {stats['p99']:.3f} | {stats['max']:.3f} | {'pass' if ok else 'FAIL'} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
