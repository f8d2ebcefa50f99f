"""The expiry timer on a fake clock: due runs are handed over, failures back off."""

from __future__ import annotations

import itertools

import anyio
import anyio.lowlevel
import pytest

from symbox.engine.schedule import ExpirySchedule
from symbox.expiry import RETRY_AFTER_ERROR, ExpiryTimer
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.anyio


async def settle() -> None:
    for _ in range(20):
        await anyio.lowlevel.checkpoint()


async def test_due_runs_are_processed_in_order_when_time_comes() -> None:
    clock = FakeClock(start=1000.0)
    schedule = ExpirySchedule()
    seen: list[tuple[str, float]] = []

    async def process(run_id: str) -> None:
        seen.append((run_id, clock.now()))

    timer = ExpiryTimer(schedule, clock, process, concurrency=1)
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        schedule.set("b", 1020.0)
        schedule.set("a", 1010.0)
        timer.armed(1010.0)
        await settle()
        assert seen == []
        clock.advance(10)
        await settle()
        assert seen == [("a", 1010.0)]
        schedule.set("c", 1015.0)
        timer.armed(1015.0)
        clock.advance(10)
        await settle()
        assert [run_id for run_id, _ in seen] == ["a", "c", "b"]
        timer.pause()


async def test_backoff_doubles_from_the_first_delay() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()
    attempts: list[float] = []

    async def process(run_id: str) -> None:
        attempts.append(clock.now())
        raise RuntimeError("no")

    timer = ExpiryTimer(schedule, clock, process)
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        schedule.set("r", 0.0)
        timer.armed(0.0)
        await settle()
        for _ in range(4):
            due = schedule.next_due()
            assert due is not None
            clock.set(due)
            await settle()
        timer.pause()
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps == [
        RETRY_AFTER_ERROR,
        RETRY_AFTER_ERROR * 2,
        RETRY_AFTER_ERROR * 4,
        RETRY_AFTER_ERROR * 8,
    ]


async def test_pausing_leaves_unstarted_runs_armed() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()
    release = anyio.Event()
    started: list[str] = []

    async def process(run_id: str) -> None:
        started.append(run_id)
        await release.wait()

    timer = ExpiryTimer(schedule, clock, process, concurrency=1)
    schedule.load([(f"r{i}", 0.0) for i in range(5)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        await settle()
        assert started == ["r0"]
        timer.pause()
        release.set()
    assert started == ["r0"]
    assert sorted(schedule.pop_due(0.0, limit=10)) == ["r1", "r2", "r3", "r4"]
