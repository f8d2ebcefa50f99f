"""Runs symbox in its own process with a no-op strategy, for load generated elsewhere.

``python -m bench.server --config C --data-dir D [--synchronous FULL] [--loop asyncio]``
prints ``port N`` on stdout once symbox is ready and runs until SIGTERM or SIGINT. On exit
it writes each live thread's CPU seconds to stderr; ``--cprofile FILE`` profiles the event
loop thread from readiness to the signal (start-up left out) and ``--sample FILE`` samples
every thread's stack (waits show up there).
"""

from __future__ import annotations

import argparse
import cProfile
import signal
import sys
from pathlib import Path

import anyio

from bench.common import STRATEGY, NoopStrategy, read_config
from bench.sampler import StackSampler, thread_cpu_report
from symbox import logs, loops
from symbox.app import Options, running


async def serve(
    config_path: Path, data_dir: Path, synchronous: str, profile: cProfile.Profile | None
) -> str:
    """Run symbox on an ephemeral loopback port until a signal arrives; return thread CPU."""
    config = read_config(config_path)
    options = Options(data_dir=data_dir, port=0, synchronous=synchronous)
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with running(config, options, strategies={STRATEGY: NoopStrategy()}) as app:
            print(f"port {app.port} loop {loops.running_loop()}", flush=True)
            if profile is not None:
                profile.enable()
            async for _ in signals:
                break
            if profile is not None:
                profile.disable()
            return thread_cpu_report()
    return ""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL", "OFF"])
    parser.add_argument("--loop", default=loops.ASYNCIO, choices=loops.CHOICES)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--sample", type=Path, help="write a stack-sampling profile here")
    parser.add_argument("--cprofile", type=Path, help="write a cProfile of the event loop here")
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="diagnostic: sys.setswitchinterval(SECONDS) (Python's default is 0.005)",
    )
    args = parser.parse_args(argv)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    logs.configure(args.log_level)
    sampler = StackSampler() if args.sample else None
    profile = cProfile.Profile() if args.cprofile else None
    if sampler is not None:
        sampler.start()

    async def main() -> str:
        return await serve(args.config, args.data_dir, args.synchronous, profile)

    threads = loops.run(main, args.loop)
    if profile is not None:
        profile.dump_stats(args.cprofile)
    if sampler is not None:
        sampler.stop()
        sampler.report(args.sample)
    print(threads, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
