"""Diagnostic for bench.cycles: request -> approve -> escalate cycles without HTTP.

``python -m bench.service [--tasks 1 8 32] [--duration 5] [--no-audit-shipping]``

Calls ``RunService.request`` and ``RunService.decide`` of an in-process App (no-op
strategy, synchronous=FULL) from concurrent tasks, so the cost of the service, store and
audit path can be told apart from the HTTP server's and the clients'.
``--no-audit-shipping`` empties ``App.shippers`` first (records still go to the outbox).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import anyio

from bench.common import (
    STRATEGY,
    NoopStrategy,
    drive_cycles,
    print_machine,
    read_config,
    write_config,
)
from symbox.app import App, Options


async def measure(tasks: int, duration: float, ship: bool) -> tuple[float, float]:
    """Return cycles per second and process CPU (percent of one core) for ``tasks`` tasks."""
    with tempfile.TemporaryDirectory(prefix="symbox-bench-") as tmp:
        folder = Path(tmp)
        config = read_config(write_config(folder))
        app = App(
            config, Options(data_dir=folder / "data", port=0), None, {STRATEGY: NoopStrategy()}
        )
        if not ship:
            app.shippers.clear()
        async with anyio.create_task_group() as group:
            await group.start(app.serve)
            cycles, cpu = await drive_cycles(app, tasks, duration)
            app.stop()
    return cycles / duration, 100 * cpu / duration


def main(argv: list[str] | None = None) -> int:
    """Print cycles per second at each concurrency."""
    parser = argparse.ArgumentParser(prog="python -m bench.service")
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--no-audit-shipping", action="store_true")
    args = parser.parse_args(argv)
    print_machine()
    print()
    print("| tasks | audit shipping | cycles/s | process CPU |")
    print("|---|---|---|---|")
    for tasks in args.tasks:
        rate, cpu = anyio.run(measure, tasks, args.duration, not args.no_audit_shipping)
        shipping = "off" if args.no_audit_shipping else "on"
        print(f"| {tasks} | {shipping} | {rate:.0f} | {cpu:.0f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
