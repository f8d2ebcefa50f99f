"""Per-call cost of a hook through the worker pool: ``python -m bench.hooks``."""

from __future__ import annotations

import argparse
import contextlib
import pickle
import sys
import time

import anyio

from bench.common import print_machine, summary_ms
from symbox.sandbox.errors import HookTimeout
from symbox.sandbox.pool import HookPool
from symbox.sandbox.process import WorkerProcess
from symbox.sandbox.worker import HEADER

TRIVIAL = "def on_request(event):\n    return None\n"
SPIN = "def on_request(event):\n    while True:\n        pass\n"
TARGET_STARVED_P99_MS = 50.0
TARGET_P50_MS = 0.3
TARGET_P99_MS = 2.0


async def scopes(calls: int, workers: int, count: int) -> list[float]:
    """One caller cycling through ``count`` scopes: what binding workers to scopes costs."""
    latencies: list[float] = []
    names = [f"environment e{index}" for index in range(count)]
    async with HookPool(size=workers) as pool:
        for name in names * 10:
            await pool.call(TRIVIAL, "hooks/bench.py", "on_request", ({},), scope=name)
        for index in range(calls):
            before = time.perf_counter()
            await pool.call(
                TRIVIAL, "hooks/bench.py", "on_request", ({},), scope=names[index % count]
            )
            latencies.append(time.perf_counter() - before)
    return latencies


async def starved(calls: int, workers: int) -> list[float]:
    """A trivial hook's latency while another scope keeps its share busy with endless loops."""
    latencies: list[float] = []
    async with HookPool(size=workers) as pool:
        stop = anyio.Event()

        async def looping() -> None:
            while not stop.is_set():
                with contextlib.suppress(HookTimeout):
                    await pool.call(
                        SPIN, "hooks/loop.py", "on_request", ({},), 2.0, scope="environment loop"
                    )

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(looping)
            await anyio.sleep(0.5)
            for _ in range(calls):
                before = time.perf_counter()
                await pool.call(TRIVIAL, "hooks/ok.py", "on_request", ({},), scope="environment ok")
                latencies.append(time.perf_counter() - before)
                await anyio.sleep(0.01)
            stop.set()
            group.cancel_scope.cancel()
    return latencies


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


# A process that answers each length-prefixed frame with a pickled None, as fast as it can.
ECHO = """
import pickle, struct, sys
header = struct.Struct(HEADER_FORMAT)
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
reply = pickle.dumps(None)
while raw := stdin.read(header.size):
    pickle.loads(stdin.read(header.unpack(raw)[0]))
    stdout.write(header.pack(len(reply)) + reply)
    stdout.flush()
"""


async def floor(calls: int) -> list[float]:
    """Round trips of a call-sized pickled frame to a process that only answers: the floor."""
    code = ECHO.replace("HEADER_FORMAT", repr(HEADER.format))
    frame = pickle.dumps(("call", TRIVIAL, "hooks/bench.py", "on_request", ({},), 1.0, "e"))
    latencies: list[float] = []
    async with await anyio.open_process([sys.executable, "-c", code]) as process:
        worker = WorkerProcess(process)
        for index in range(calls + 50):
            before = time.perf_counter()
            await worker.send(frame)
            await worker.receive(1 << 20)
            if index >= 50:
                latencies.append(time.perf_counter() - before)
        await worker.stop(1.0)
    return latencies


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table of hook-call latency at a few concurrency levels."""
    parser = argparse.ArgumentParser(prog="python -m bench.hooks")
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    print_machine()
    print()
    print("| callers | calls/s | p50 ms | p99 ms | max ms | target p50 <= 0.3, p99 <= 2 |")
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
    stats = summary_ms(anyio.run(floor, args.calls))
    print(
        f"| floor: 1, frame round trip to a process that only answers | - | {stats['p50']:.3f} "
        f"| {stats['p99']:.3f} | {stats['max']:.3f} | - |"
    )
    print()
    print("| scopes in turn | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    for count in (1, 2, 6):
        stats = summary_ms(anyio.run(scopes, args.calls // 4, args.workers, count))
        print(
            f"| {count} | {stats['p50']:.3f} | {stats['p99']:.3f} | {stats['max']:.3f} |",
            flush=True,
        )
    print()
    stats = summary_ms(anyio.run(starved, 300, args.workers))
    verdict = "pass" if stats["p99"] <= TARGET_STARVED_P99_MS else "FAIL"
    print("| trivial hook beside 10 endless loops | p50 ms | p99 ms | max ms | target p99 <= 50 |")
    print("|---|---|---|---|---|")
    print(
        f"| 300 calls | {stats['p50']:.3f} | {stats['p99']:.3f} | {stats['max']:.3f} | {verdict} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
