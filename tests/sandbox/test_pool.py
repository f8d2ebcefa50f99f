"""The worker pool with real processes: results, limits, kills, crashes and event-loop lag."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from symbox.sandbox.errors import HookCompileError, HookCrashed, HookError, HookTimeout
from symbox.sandbox.pool import DEFAULT_COMMAND, HookPool

pytestmark = pytest.mark.anyio

FILE = "hooks/impl.py"
HOOKS = """\
import re, json, datetime


def on_request(event):
    email = event["user"]["email"]
    return {
        "domain": re.sub(r"^.*@", "", email),
        "ok": email in json.loads(event["allowed"]),
        "year": datetime.date(2024, 5, 1).year,
        "approvers": sorted({a.lower() for a in event["approvers"]}),
        "label": f"{event['user']['name']} ({len(event['approvers'])})",
    }


def trivial():
    return 1


def spin():
    while True:
        pass


def power():
    return 7 ** 10 ** 8


def allocate():
    return "x" * (4 * 1024**3)


def recurse(n=0):
    return recurse(n + 1)


def huge():
    return "x" * (2 * 1024**2)


def not_plain():
    return {"a": {1, 2}}


def bad(x):
    return x["missing"]
"""

# A stand-in worker that starts properly, then dies on its first request (as a segfault would).
CRASHING_WORKER = (
    "import os, signal\n"
    "from symbox.sandbox.worker import READY, read_frame, write_frame\n"
    "write_frame(1, READY)\nread_frame(0)\nos.kill(os.getpid(), signal.SIGSEGV)\n"
)


@pytest.fixture
async def pool() -> AsyncIterator[HookPool]:
    async with HookPool(size=2, default_timeout=2.0) as running:
        yield running


class LagMeter:
    """Ticks every 5 ms on the event loop and records the worst lateness."""

    def __init__(self) -> None:
        self.max_lag = 0.0

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await anyio.sleep(0.005)
            self.max_lag = max(self.max_lag, time.perf_counter() - started - 0.005)


async def measured(action: Callable[[], object]) -> tuple[object, float]:
    """Run an async action while a LagMeter runs; return its result (or error) and max lag."""
    meter = LagMeter()
    outcome: object = None
    async with anyio.create_task_group() as group:
        group.start_soon(meter.run)
        try:
            outcome = await action()  # type: ignore[misc]
        except Exception as exc:
            outcome = exc
        group.cancel_scope.cancel()
    return outcome, meter.max_lag


async def test_plain_hook_returns_data(pool: HookPool) -> None:
    event = {
        "user": {"email": "al@example.com", "name": "Al"},
        "allowed": '["al@example.com"]',
        "approvers": ["B@x", "b@x", "C@x"],
    }
    assert await pool.call(HOOKS, FILE, "on_request", [event]) == {
        "domain": "example.com",
        "ok": True,
        "year": 2024,
        "approvers": ["b@x", "c@x"],
        "label": "Al (3)",
    }


async def test_runtime_and_compile_errors_name_file_and_line(pool: HookPool) -> None:
    with pytest.raises(HookError) as caught:
        await pool.call(HOOKS, FILE, "bad", [{}])
    assert str(caught.value) == "hooks/impl.py:45: KeyError: 'missing'"
    with pytest.raises(HookCompileError, match=r"^hooks/impl.py:2: SyntaxError"):
        await pool.call("x = 1\ndef f(:\n", FILE, "f")


async def test_busy_loop_is_killed_without_stalling_the_loop(pool: HookPool) -> None:
    before = set(pool.pids)
    started = time.perf_counter()
    outcome, lag = await measured(lambda: pool.call(HOOKS, FILE, "spin", [], timeout=0.5))
    elapsed = time.perf_counter() - started
    assert isinstance(outcome, HookTimeout)
    assert str(outcome) == "hooks/impl.py: spin ran longer than 0.5 s"
    print(f"\nspin: killed+replaced in {elapsed:.3f} s (timeout 0.5 s), max lag {lag * 1e3:.1f} ms")
    assert lag < 0.05
    assert elapsed < 2.0
    assert len(before - set(pool.pids)) == 1  # the spinning worker was killed
    assert await pool.call(HOOKS, FILE, "trivial") == 1


async def test_huge_power_is_killed_at_the_timeout(pool: HookPool) -> None:
    outcome, lag = await measured(lambda: pool.call(HOOKS, FILE, "power", [], timeout=0.5))
    assert isinstance(outcome, HookTimeout)
    assert lag < 0.05
    assert await pool.call(HOOKS, FILE, "trivial") == 1


async def test_huge_allocation_is_a_memory_error(pool: HookPool) -> None:
    with pytest.raises(HookError, match=r"impl.py:29: MemoryError: out of memory"):
        await pool.call(HOOKS, FILE, "allocate")
    assert await pool.call(HOOKS, FILE, "trivial") == 1


async def test_deep_recursion_is_reported(pool: HookPool) -> None:
    with pytest.raises(HookError, match=r"impl.py:33: RecursionError"):
        await pool.call(HOOKS, FILE, "recurse")


async def test_huge_and_non_plain_returns_are_refused(pool: HookPool) -> None:
    with pytest.raises(HookError, match="the limit is 1048576"):
        await pool.call(HOOKS, FILE, "huge")
    with pytest.raises(HookError, match=r"must return plain data.*got set"):
        await pool.call(HOOKS, FILE, "not_plain")
    assert await pool.call(HOOKS, FILE, "trivial") == 1


async def test_crashed_worker_is_reported_and_replaced() -> None:
    async with HookPool(size=1, command=[sys.executable, "-c", CRASHING_WORKER]) as crashing:
        for _ in range(2):
            with pytest.raises(HookCrashed, match="trivial: worker killed by SIGSEGV"):
                await crashing.call(HOOKS, FILE, "trivial")


async def test_cancelled_call_replaces_the_worker() -> None:
    async with HookPool(size=1) as single:
        with anyio.move_on_after(0.2):
            await single.call(HOOKS, FILE, "spin", [], timeout=10)
        assert await single.call(HOOKS, FILE, "trivial") == 1


def _proc_facts(pid: int) -> tuple[bytes, list[str], str, str] | None:
    """Environment, open fds, stderr target and limits of a live process (None once gone)."""
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return None
    return (
        (proc / "environ").read_bytes(),
        sorted(os.listdir(proc / "fd")),
        os.readlink(proc / "fd" / "2"),
        (proc / "limits").read_text(),
    )


async def test_workers_are_confined_and_reaped() -> None:
    async with HookPool(size=2, memory_limit=256 * 1024 * 1024) as confined:
        pids = confined.pids
        assert len(pids) == 2
        for pid in pids:
            facts = _proc_facts(pid)
            assert facts is not None
            environ, fds, stderr, limits = facts
            assert environ == b""
            assert fds == ["0", "1", "2"]
            assert stderr == "/dev/null"
            assert "Max address space         268435456" in limits
    assert [_proc_facts(pid) for pid in pids] == [None, None]


async def test_workers_launched_early_serve_the_pool_once_it_is_entered() -> None:
    pool = HookPool(size=2)
    await pool.launch()
    launched = pool.pids
    assert len(launched) == 2
    async with pool:
        # The launched workers are the pool's first ones, not two more.
        assert pool.pids == launched
        assert await pool.call(HOOKS, FILE, "trivial", []) == 1
    assert [_proc_facts(pid) for pid in launched] == [None, None]


async def test_workers_launched_for_a_start_that_fails_are_reaped() -> None:
    pool = HookPool(size=2)
    await pool.launch()
    launched = pool.pids
    await pool.aclose()
    assert [_proc_facts(pid) for pid in launched] == [None, None]


async def test_overhead_and_concurrency(pool: HookPool) -> None:
    for _ in range(20):
        await pool.call(HOOKS, FILE, "trivial")
    timings = []
    for _ in range(300):
        started = time.perf_counter()
        await pool.call(HOOKS, FILE, "trivial")
        timings.append(time.perf_counter() - started)
    timings.sort()
    p50, p99 = timings[150], timings[296]
    print(f"\ntrivial hook through the pool: p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms")
    assert p50 < 0.005
    results: list[object] = []

    async def one() -> None:
        results.append(await pool.call(HOOKS, FILE, "trivial"))

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(one)
    assert results == [1] * 50


def test_default_command_is_a_module_launch() -> None:
    assert list(DEFAULT_COMMAND[-2:]) == ["-m", "symbox.sandbox.worker"]
