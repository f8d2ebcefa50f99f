"""Walls between scopes in the worker pool, with real worker processes (and rogue ones)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import anyio
import pytest

from symbox.sandbox.admission import ThrottlePolicy
from symbox.sandbox.errors import HookCrashed, HookError, HookTimeout
from symbox.sandbox.pool import HookIncident, HookPool

pytestmark = pytest.mark.anyio

HOOKS = """\
from sym.sdk.integrations import pagerduty


def plant(event):
    # A suspended generator in a garbage cycle: its `finally` runs whenever it is freed.
    def gen():
        try:
            yield 1
        finally:
            pagerduty.users_on_call()

    class Holder:
        pass

    holder = Holder()
    holder.me = holder
    holder.g = gen()
    next(holder.g)
    return 0


def churn(event):
    # Allocates enough to run the cyclic collector a few times.
    junk = []
    for i in range(900):
        junk.append([[j] for j in range(100)])
    return len(junk)


def trivial(event=None):
    return 1


def spin(event=None):
    while True:
        pass


def flood(event=None):
    return pagerduty.is_on_call("x" * 200000 + "@example.com")
"""


class Recorder:
    """An IntegrationProvider that records the calls one scope's code made."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def call(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        """Record the call; nobody is on call."""
        self.calls.append((integration, method))
        return []


class Reports:
    """A PoolReporter that keeps what it was told."""

    def __init__(self) -> None:
        self.incidents: list[HookIncident] = []
        self.throttles: list[tuple[str, str]] = []

    async def misbehaved(self, incident: HookIncident) -> None:
        """Keep the incident."""
        self.incidents.append(incident)

    async def throttled(self, owner: str, scope: str) -> None:
        """Keep the throttle."""
        self.throttles.append((owner, scope))


EVENT: dict[str, Any] = {"payload": {"fields": {}}}


async def test_a_worker_never_serves_two_scopes() -> None:
    seen: dict[int, set[str | None]] = {}
    # Two processes at most: scopes take turns, and an idle worker is stopped, never reused.
    async with HookPool(size=1, max_workers=2) as pool:
        for scope in ["env a", "env b", "env a", "env c", "env b", "env a"]:
            await pool.call(HOOKS, f"hooks/{scope}.py", "trivial", scope=scope)
            for pid, bound in pool.scopes().items():
                seen.setdefault(pid, set()).add(bound)
    assert all(len(scopes - {None}) <= 1 for scopes in seen.values())
    assert {scope for scopes in seen.values() for scope in scopes} >= {"env a", "env b", "env c"}


async def test_a_few_scopes_each_keep_a_warm_worker() -> None:
    scopes = [f"env {index}" for index in range(6)]
    async with HookPool(size=4) as pool:
        for scope in scopes:
            await pool.call(HOOKS, "hooks/x.py", "trivial", scope=scope)
        warm = {pid: scope for pid, scope in pool.scopes().items() if scope is not None}
        for scope in scopes * 3:
            await pool.call(HOOKS, "hooks/x.py", "trivial", scope=scope)
        assert {pid: scope for pid, scope in pool.scopes().items() if scope} == warm
    assert sorted(warm.values()) == scopes


async def test_code_left_behind_runs_only_in_its_own_call() -> None:
    staging, prod = Recorder(), Recorder()
    async with HookPool(size=1) as pool:
        await pool.call(
            HOOKS, "hooks/staging.py", "plant", [EVENT], wrap_event=True, integrations=staging
        )
        # The planted `finally` already ran, inside the call that planted it.
        assert staging.calls == [("pagerduty", "users_on_call")]
        await pool.call(
            HOOKS, "hooks/prod.py", "churn", [EVENT], wrap_event=True, integrations=prod
        )
    assert prod.calls == []
    assert staging.calls == [("pagerduty", "users_on_call")]


# Replies properly to each call, then writes one more frame that belongs to no call.
STRAY_FRAME = """\
import pickle, sys
from symbox.sandbox.worker import READY, read_frame, write_frame, HEADER
import os
write_frame(1, READY)
while (frame := read_frame(0)) is not None:
    call_id = pickle.loads(frame)["call_id"]
    write_frame(1, pickle.dumps({"ok": True, "value": 1, "call_id": call_id}))
    if sys.argv[1] == "stray":
        call = {"integration": "pagerduty", "method": "users_on_call", "args": {}}
        write_frame(1, pickle.dumps({"integration_call": call, "call_id": "guessed"}))
    elif sys.argv[1] == "oversized":
        os.write(1, HEADER.pack(2**31))
    else:
        # From the second call on: one integration call of its own, then garbage.
        request = pickle.loads(read_frame(0))
        call = {"integration": "pagerduty", "method": "users_on_call", "args": {}}
        write_frame(1, pickle.dumps({"integration_call": call, "call_id": request["call_id"]}))
        read_frame(0)
        os.write(1, HEADER.pack(2**31))
"""


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("stray", "worker sent a frame outside its call"),
        ("oversized", "worker sent a 2147483648-byte frame"),
    ],
)
async def test_a_victim_call_is_retried_on_a_fresh_worker(mode: str, reason: str) -> None:
    reports = Reports()
    provider = Recorder()
    command = [sys.executable, "-c", STRAY_FRAME, mode]
    async with HookPool(size=1, command=command, reporter=reports) as pool:
        assert await pool.call("", "hooks/staging.py", "x", integrations=provider) == 1
        # The next call meets what the first left in the pipe, and is not failed by it.
        assert await pool.call("", "hooks/prod.py", "x", integrations=provider) == 1
    assert provider.calls == []
    assert reports.incidents == [
        HookIncident(
            scope="default",
            suspects=("hooks/staging.py",),
            victim="hooks/prod.py",
            reason=reason,
            retried=True,
        )
    ]


async def test_an_oversized_integration_call_is_refused_inside_the_hook() -> None:
    reports = Reports()
    async with HookPool(size=1, max_reply=1000, reporter=reports) as pool:
        with pytest.raises(HookError, match=r"PagerDutyError: pagerduty\.is_on_call: the call is"):
            await pool.call(HOOKS, "hooks/noisy.py", "flood", integrations=Recorder())
        assert await pool.call(HOOKS, "hooks/noisy.py", "trivial") == 1
    # The worker kept the protocol: nothing to replace, nothing to report.
    assert reports.incidents == []


async def test_a_call_whose_side_effects_went_out_is_not_run_twice() -> None:
    reports = Reports()
    provider = Recorder()
    command = [sys.executable, "-c", STRAY_FRAME, "after-call"]
    async with HookPool(size=1, command=command, reporter=reports) as pool:
        assert await pool.call("", "hooks/staging.py", "x", integrations=provider) == 1
        with pytest.raises(HookCrashed, match="worker sent a 2147483648-byte frame"):
            await pool.call("", "hooks/prod.py", "x", integrations=provider)
    assert provider.calls == [("pagerduty", "users_on_call")]
    assert reports.incidents == [
        HookIncident(
            scope="default",
            suspects=("hooks/prod.py", "hooks/staging.py"),
            victim="hooks/prod.py",
            reason="worker sent a 2147483648-byte frame",
            retried=False,
        )
    ]


async def test_a_spare_that_died_is_replaced_when_needed() -> None:
    async with HookPool(size=2) as pool:
        await pool.call(HOOKS, "hooks/a.py", "trivial", scope="env a")
        for pid, scope in pool.scopes().items():
            if scope is None:
                os.kill(pid, signal.SIGKILL)
        assert await pool.call(HOOKS, "hooks/b.py", "trivial", scope="env b") == 1


PATTERN_CACHE = """import re
from sym.sdk.integrations import pagerduty


class Key(str):
    pass


def plant(event=None):
    def gen():
        try:
            yield 1
        finally:
            pagerduty.users_on_call()

    key = Key("planted[.]x")
    holder = [gen()]
    next(holder[0])
    key.holder = holder
    re.compile(key)
    return 0


def victim(event=None):
    for i in range(600):
        re.compile("b" + str(i))
    return 1
"""


async def test_objects_hidden_in_a_library_cache_die_with_their_call() -> None:
    planter, victim = Recorder(), Recorder()
    async with HookPool(size=1) as pool:
        await pool.call(PATTERN_CACHE, "hooks/x.py", "plant", integrations=planter)
        await pool.call(PATTERN_CACHE, "hooks/y.py", "victim", integrations=victim)
    assert planter.calls == [("pagerduty", "users_on_call")]
    assert victim.calls == []


async def test_waiting_for_a_worker_counts_against_the_timeout() -> None:
    async with HookPool(size=1) as pool, anyio.create_task_group() as group:
        group.start_soon(lambda: _expect_timeout(pool.call(HOOKS, "hooks/a.py", "spin", timeout=2)))
        await anyio.sleep(0.2)
        with pytest.raises(HookTimeout, match=r"trivial waited 0\.3 s for a hook worker"):
            await pool.call(HOOKS, "hooks/a.py", "trivial", timeout=0.3)


async def _expect_timeout(call: Any, text: str | None = None) -> None:
    with pytest.raises(HookTimeout, match=text):
        await call


async def test_a_scope_in_endless_loops_leaves_workers_for_others() -> None:
    done: list[str] = []
    async with HookPool(size=2) as pool:

        async def endless() -> None:
            with pytest.raises(HookTimeout):
                await pool.call(HOOKS, "hooks/loop.py", "spin", timeout=1.5, scope="env loop")
            done.append("loop")

        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(endless)
            await anyio.sleep(0.2)
            for _ in range(5):
                assert await pool.call(HOOKS, "hooks/ok.py", "trivial", scope="env ok") == 1
                done.append("ok")
    # Every trivial call finished while the loops still held their share.
    assert done[:5] == ["ok"] * 5


async def test_an_owner_that_keeps_timing_out_is_throttled_and_reported() -> None:
    reports = Reports()
    policy = ThrottlePolicy(timeouts=2, window=60.0, cooldown=60.0)
    async with HookPool(size=4, share=4, throttle=policy, reporter=reports) as pool:
        for _ in range(2):
            with pytest.raises(HookTimeout):
                await pool.call(HOOKS, "hooks/loop.py", "spin", timeout=0.2)
        assert reports.throttles == [("hooks/loop.py", "default")]
        # Throttled: a second call of that owner waits for the first, up to its deadline.
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: _expect_timeout(pool.call(HOOKS, "hooks/loop.py", "spin", timeout=1.0))
            )
            await anyio.sleep(0.1)
            with pytest.raises(HookTimeout, match="waited"):
                await pool.call(HOOKS, "hooks/loop.py", "trivial", timeout=0.3)
        # Others are not held back.
        assert await pool.call(HOOKS, "hooks/other.py", "trivial") == 1


async def test_making_room_never_stops_a_busy_worker() -> None:
    async with HookPool(size=2, share=1, max_workers=3) as pool:
        await pool.call(HOOKS, "hooks/a.py", "trivial", scope="env a")
        async with anyio.create_task_group() as group:
            # env a's worker is busy for the whole second while two new scopes need room.
            group.start_soon(
                lambda: _expect_timeout(
                    pool.call(HOOKS, "hooks/a.py", "spin", timeout=1.0, scope="env a"),
                    "ran longer than",
                )
            )
            await anyio.sleep(0.1)
            for scope in ("env b", "env c", "env b", "env c"):
                assert await pool.call(HOOKS, f"hooks/{scope}.py", "trivial", scope=scope) == 1
