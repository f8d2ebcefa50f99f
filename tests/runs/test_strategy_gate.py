"""The strategy gate on its own, on a fake clock: giving up on a target that keeps refusing."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from symbox.config.call_limits import CallLimits
from symbox.engine.call_queue import Rank
from symbox.metrics import Metrics
from symbox.runs.strategy_gate import StrategyGate
from symbox.strategies.base import Throttled
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.anyio


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(50):
        await anyio.lowlevel.checkpoint()


async def test_a_call_refused_past_the_bound_fails_with_the_throttling_answer() -> None:
    clock = FakeClock(start=0.0)
    metrics = Metrics()
    gate = StrategyGate("slow", CallLimits(concurrency=1), clock, metrics, give_up_after=30.0)
    tries: list[float] = []

    async def refused() -> None:
        tries.append(clock.now())
        raise Throttled("HTTP 429")

    caught: list[BaseException] = []

    async def call() -> None:
        try:
            await gate.run(Rank.REVOKE, 0.0, refused)
        except Throttled as error:
            caught.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        for _ in range(200):
            await settle()
            if caught:
                break
            clock.advance(1.0)
    assert caught and str(caught[0]) == "HTTP 429"
    # Backing off 1, 2, 4, 8, 16 s: the try at 31 s is past the 30 s bound.
    assert tries == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]
    assert metrics.counter_value("symbox_strategy_throttled_total", strategy="slow") == 6
    assert gate.waiting == 0
