"""The expiry timer on a fake clock: due runs are handed over, failures back off."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import anyio
import anyio.lowlevel
import pytest

from symbox.engine.schedule import ExpirySchedule
from symbox.runs.expiry import (
    BATCH_SIZE,
    BATCHES_IN_FLIGHT,
    DEFERRED_FOR,
    RETRY_AFTER_ERROR,
    DueOutcomes,
    DueReport,
    ExpiryTimer,
)
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


class Batches:
    """A batch handler that records what it was given and answers as told."""

    def __init__(self, single: set[str] | None = None, failing: set[str] | None = None) -> None:
        self.seen: list[list[str]] = []
        self.single = single or set()
        self.failing = failing or set()
        self.release = anyio.Event()
        self.release.set()
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, run_ids: Sequence[str]) -> DueReport:
        self.seen.append(list(run_ids))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        failed = {run_id: RuntimeError("no") for run_id in run_ids if run_id in self.failing}
        return DueReport(single=[r for r in run_ids if r in self.single], failed=failed)


async def test_due_runs_go_to_the_batch_handler_and_what_it_leaves_one_by_one() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()
    singles: list[str] = []

    async def process(run_id: str) -> None:
        singles.append(run_id)

    batches = Batches(single={"r2", "r4"})
    timer = ExpiryTimer(schedule, clock, process, batch=batches)
    schedule.load([(f"r{i}", float(i)) for i in range(6)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        clock.set(5.0)
        await settle()
        timer.pause()
    assert sorted(run_id for batch in batches.seen for run_id in batch) == [
        f"r{i}" for i in range(6)
    ]
    assert sorted(singles) == ["r2", "r4"]
    assert len(schedule) == 0


async def test_batches_are_bounded_in_size_and_in_number_at_once() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()

    async def process(run_id: str) -> None:
        raise AssertionError("nothing is left for one-by-one processing")

    batches = Batches()
    batches.release = anyio.Event()
    timer = ExpiryTimer(schedule, clock, process, batch=batches)
    count = BATCH_SIZE * (BATCHES_IN_FLIGHT + 1) + 3
    schedule.load([(f"r{i}", 0.0) for i in range(count)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        await settle()
        assert len(batches.seen) == BATCHES_IN_FLIGHT
        assert all(len(batch) == BATCH_SIZE for batch in batches.seen)
        batches.release.set()
        for _ in range(10):
            await settle()
        timer.pause()
    assert batches.most_in_flight == BATCHES_IN_FLIGHT
    assert sum(len(batch) for batch in batches.seen) == count
    assert len({run_id for batch in batches.seen for run_id in batch}) == count


async def test_runs_a_batch_failed_are_looked_at_again_after_a_back_off() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()

    async def process(run_id: str) -> None:
        raise AssertionError("nothing is left for one-by-one processing")

    batches = Batches(failing={"bad"})
    timer = ExpiryTimer(schedule, clock, process, batch=batches)
    schedule.load([("good", 0.0), ("bad", 0.0)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        await settle()
        assert schedule.next_due() == RETRY_AFTER_ERROR
        clock.set(RETRY_AFTER_ERROR)
        await settle()
        assert schedule.next_due() == RETRY_AFTER_ERROR + RETRY_AFTER_ERROR * 2
        timer.pause()
    assert [sorted(batch) for batch in batches.seen] == [["bad", "good"], ["bad"]]


async def test_a_batch_handler_that_raises_backs_off_every_run_it_had() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()
    calls: list[list[str]] = []

    async def process(run_id: str) -> None:
        raise AssertionError("nothing is left for one-by-one processing")

    async def broken(run_ids: Sequence[str]) -> DueReport:
        calls.append(list(run_ids))
        raise RuntimeError("the store is gone")

    timer = ExpiryTimer(schedule, clock, process, batch=broken)
    schedule.load([("a", 0.0), ("b", 0.0)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        await settle()
        timer.pause()
    assert len(calls) == 1 and sorted(calls[0]) == ["a", "b"]
    assert sorted(schedule.pop_due(RETRY_AFTER_ERROR, limit=10)) == ["a", "b"]


async def test_pausing_leaves_runs_a_batch_left_unstarted_armed() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()
    started: list[str] = []
    release = anyio.Event()

    async def process(run_id: str) -> None:
        started.append(run_id)
        await release.wait()

    batches = Batches(single={"a", "b", "c"})
    timer = ExpiryTimer(schedule, clock, process, concurrency=1, batch=batches)
    schedule.load([("a", 0.0), ("b", 0.0), ("c", 0.0)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        await settle()
        assert len(started) == 1
        timer.pause()
        release.set()
    assert len(started) == 1
    assert len(schedule.pop_due(0.0, limit=10)) == 2


async def test_work_a_batch_took_on_does_not_hold_the_timer_back() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()
    hanging = anyio.Event()
    taken: list[list[str]] = []
    finished: list[str] = []

    async def process(run_id: str) -> None:
        raise AssertionError("nothing is left for one-by-one processing")

    async def batches(run_ids: Sequence[str]) -> DueReport:
        taken.append(list(run_ids))

        async def rest(outcomes: DueOutcomes) -> None:
            await hanging.wait()
            finished.extend(run_ids)

        return DueReport(rest=rest)

    timer = ExpiryTimer(schedule, clock, process, batch=batches)
    count = BATCHES_IN_FLIGHT + 2
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        for number in range(count):
            schedule.set(f"r{number}", float(number))
            timer.armed(float(number))
            clock.set(float(number))
            await settle()
        # Every group was taken on while the work of the first ones still hangs.
        assert taken == [[f"r{number}"] for number in range(count)]
        assert finished == []
        hanging.set()
        await settle()
        timer.pause()
    assert sorted(finished) == [f"r{number}" for number in range(count)]
    assert len(schedule) == 0


async def test_runs_a_batch_deferred_are_looked_at_again_a_moment_later() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()
    seen: list[tuple[float, list[str]]] = []

    async def process(run_id: str) -> None:
        raise AssertionError("nothing is left for one-by-one processing")

    async def batches(run_ids: Sequence[str]) -> DueReport:
        seen.append((clock.now(), sorted(run_ids)))
        # Answered once the timer has gone to sleep: it must wake for what is put off.
        await settle()
        # The first time, "b" is put off; then it is done.
        return DueReport(deferred=["b"] if len(seen) == 1 else [])

    timer = ExpiryTimer(schedule, clock, process, batch=batches)
    schedule.load([("a", 0.0), ("b", 0.0)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        for _ in range(3):
            await settle()
        assert schedule.next_due() == DEFERRED_FOR
        clock.set(DEFERRED_FOR)
        for _ in range(3):
            await settle()
        timer.pause()
    assert seen == [(0.0, ["a", "b"]), (DEFERRED_FOR, ["b"])]
    assert len(schedule) == 0


async def test_a_batch_whose_work_raises_backs_off_the_runs_it_took_on() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()
    singles: list[str] = []

    async def process(run_id: str) -> None:
        singles.append(run_id)

    async def batches(run_ids: Sequence[str]) -> DueReport:
        async def rest(outcomes: DueOutcomes) -> None:
            outcomes.finished(["a"])
            raise RuntimeError("the store is gone")

        return DueReport(single=["s"], deferred=["d"], rest=rest)

    timer = ExpiryTimer(schedule, clock, process, batch=batches)
    schedule.load([("s", 0.0), ("d", 0.0), ("a", 0.0), ("b", 0.0)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        await settle()
        timer.pause()
    assert singles == ["s"]
    assert schedule.pop_due(DEFERRED_FOR, limit=10) == ["d"]
    # "a" was committed before the work raised: it is not looked at again for it.
    assert schedule.pop_due(RETRY_AFTER_ERROR, limit=10) == ["b"]


async def test_a_run_left_one_by_one_that_keeps_failing_backs_off() -> None:
    clock = FakeClock(start=0.0)
    schedule = ExpirySchedule()

    async def process(run_id: str) -> None:
        raise RuntimeError("no")

    timer = ExpiryTimer(schedule, clock, process, batch=Batches(single={"r"}))
    schedule.load([("r", 0.0)])
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run)
        for _ in range(3):
            await settle()
        assert schedule.next_due() == RETRY_AFTER_ERROR
        clock.set(RETRY_AFTER_ERROR)
        for _ in range(3):
            await settle()
        assert schedule.next_due() == RETRY_AFTER_ERROR + RETRY_AFTER_ERROR * 2
        timer.pause()
