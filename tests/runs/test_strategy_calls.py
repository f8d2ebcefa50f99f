"""Strategy calls under call limits, on a fake clock: who goes first, and throttling."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from symbox.config.call_limits import CallLimits
from symbox.config.model import Location, Target
from symbox.engine.model import Actor, Decision, Grant, GrantState, Run, RunStatus
from symbox.metrics import Metrics
from symbox.runs.strategy_calls import StrategyCalls
from symbox.strategies.base import StrategyError
from tests.fakes.clock import FakeClock
from tests.fakes.configs import access_config
from tests.fakes.throttling_strategy import ThrottlingStrategy
from tests.harness import harness

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
CAROL = "carol@example.com"
STRATEGY = "slow"
TARGET = Target("db", "db", "custom", None, {}, (), Location("config.hcl", 1))


def revocation(run_id: str, expired_at: float) -> Run:
    """An escalated run whose grant expired at ``expired_at``."""
    return Run(
        id=run_id,
        flow="access",
        requester=f"{run_id}@example.com",
        submitted_by=Actor.user(f"{run_id}@example.com"),
        channel="api",
        fields={},
        strategy=STRATEGY,
        target="db",
        status=RunStatus.ESCALATED,
        created_at=expired_at - 3600,
        request_expires_at=expired_at,
        grant=Grant(key=f"k/{run_id}", state=GrantState.ACTIVE, expires_at=expired_at),
    )


def grant(run_id: str, approved_at: float) -> Run:
    """An approved run waiting for its grant since ``approved_at``."""
    decision = Decision(approved=True, actor=Actor.bot("ci"), at=approved_at, reason=None)
    run = revocation(run_id, approved_at + 3600)
    return Run(
        **{
            **run.__dict__,
            "status": RunStatus.APPROVED,
            "decision": decision,
            "grant": Grant(key=f"k/{run_id}", state=GrantState.ESCALATING),
        }
    )


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(50):
        await anyio.lowlevel.checkpoint()


async def run_until_done(clock: FakeClock, done: anyio.Event, step: float = 0.05) -> None:
    """Move the fake clock ``step`` at a time until ``done``."""
    for _ in range(100_000):
        await settle()
        if done.is_set():
            return
        clock.advance(step)
    raise AssertionError("the calls never finished")


async def call_all(
    calls: StrategyCalls, clock: FakeClock, work: list[tuple[str, Run]]
) -> list[StrategyError | None]:
    """Start every call at once (in this order), then run the clock until all ended."""
    results: list[StrategyError | None] = [None] * len(work)
    done = anyio.Event()
    left = len(work)

    async def one(index: int, action: str, run: Run) -> None:
        nonlocal left
        results[index] = await calls.call(action, run)
        left -= 1
        if left == 0:
            done.set()

    async with anyio.create_task_group() as group:
        for index, (action, run) in enumerate(work):
            group.start_soon(one, index, action, run)
            # Arrival order is the order given, whatever the scheduler does.
            await settle()
        await run_until_done(clock, done)
    return results


def setup(
    limits: CallLimits, **fake: float | int | None
) -> tuple[StrategyCalls, ThrottlingStrategy, FakeClock, Metrics]:
    clock = FakeClock(start=T0)
    strategy = ThrottlingStrategy(clock, **fake)  # type: ignore[arg-type]
    metrics = Metrics()
    calls = StrategyCalls(
        {STRATEGY: strategy}, lambda run: TARGET, clock, metrics, {STRATEGY: limits}
    )
    return calls, strategy, clock, metrics


async def test_revocations_go_before_waiting_grants_and_in_due_order() -> None:
    calls, strategy, clock, _ = setup(CallLimits(calls=2, per=1.0, concurrency=1))
    work = [
        ("escalate", grant("g-first", T0 - 1)),  # starts at once: nothing waits yet
        ("escalate", grant("g-old", T0 - 60)),
        ("deescalate", revocation("r-late", T0 - 1)),
        ("escalate", grant("g-new", T0 - 2)),
        ("deescalate", revocation("r-oldest", T0 - 30)),
        ("deescalate", revocation("r-middle", T0 - 10)),
    ]
    results = await call_all(calls, clock, work)
    assert results == [None] * len(work)
    assert [call.run_id for call in strategy.calls] == [
        "g-first",
        "r-oldest",
        "r-middle",
        "r-late",
        "g-old",
        "g-new",
    ]
    assert strategy.max_in_window() <= 2
    assert strategy.refused == []


async def test_throttling_keeps_the_order_and_fails_no_call() -> None:
    # Configured above what the target allows: it refuses, and the calls back off.
    calls, strategy, clock, metrics = setup(
        CallLimits(calls=10, per=1.0, concurrency=4), limit=3, retry_after=None
    )
    work = [("deescalate", revocation(f"r{i:02}", T0 - 100 + i)) for i in range(12)]
    work += [("escalate", grant(f"g{i:02}", T0 - 200 + i)) for i in range(4)]
    results = await call_all(calls, clock, work)
    assert results == [None] * len(work)
    assert strategy.refused, "the fake never throttled: the test proves nothing"
    expected = [f"r{i:02}" for i in range(12)] + [f"g{i:02}" for i in range(4)]
    # A refused call goes again from its place: the target sees every call in order.
    assert [call.run_id for call in strategy.calls] == expected
    throttles = metrics.counter_value("symbox_strategy_throttled_total", strategy=STRATEGY)
    assert throttles == len(strategy.refused)
    assert metrics.counter_value("symbox_deescalate_total", outcome="ok") == 12
    assert metrics.gauge_value("symbox_strategy_waiting", strategy=STRATEGY) == 0


async def test_a_hinted_wait_is_honoured_by_every_call() -> None:
    calls, strategy, clock, _ = setup(CallLimits(concurrency=1), limit=1, retry_after=5.0)
    work = [("deescalate", revocation(f"r{i}", T0 - 10 + i)) for i in range(3)]
    results = await call_all(calls, clock, work)
    assert results == [None, None, None]
    assert [call.run_id for call in strategy.calls] == ["r0", "r1", "r2"]
    starts = [call.at for call in strategy.calls]
    refused = [call.at for call in strategy.refused]
    # After each refusal, nothing was tried for the 5 s the target asked.
    for at in refused:
        assert not [start for start in starts + refused if at < start < at + 5.0]


async def test_calls_waiting_when_cancelled_leave_no_trace() -> None:
    calls, strategy, clock, metrics = setup(CallLimits(calls=1, per=10.0, concurrency=1))
    async with anyio.create_task_group() as group:
        for i in range(3):
            group.start_soon(calls.call, "deescalate", revocation(f"r{i}", T0 - i))
            await settle()
        assert metrics.gauge_value("symbox_strategy_waiting", strategy=STRATEGY) == 2
        group.cancel_scope.cancel()
    assert metrics.gauge_value("symbox_strategy_waiting", strategy=STRATEGY) == 0
    # The gate is whole again: a new call goes once the window allows it.
    done = anyio.Event()

    async def last() -> None:
        await calls.call("deescalate", revocation("after", T0))
        done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(last)
        await run_until_done(clock, done, step=1.0)
    assert [call.run_id for call in strategy.calls] == ["r0", "after"]


async def test_a_throttled_revoke_through_the_service_waits_instead_of_failing(
    tmp_path: Path,
) -> None:
    def limited(receiver_url: str) -> str:
        return access_config(receiver_url).replace(
            'signing_secret = env("SYMBOX_GRANT_SECRET")',
            'signing_secret = env("SYMBOX_GRANT_SECRET")\n    max_concurrency = 2',
            1,
        )

    async with harness(tmp_path, config_text=limited) as h:
        run_id = await h.request()
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        h.receiver.state.fail_with.append(429)
        answers: list[int] = []

        async def revoke() -> None:
            path = "/api/v1/events/deescalate"
            answers.append((await h.call("POST", path, CAROL, {"run_id": run_id})).status_code)

        async with anyio.create_task_group() as group:
            group.start_soon(revoke)
            await h.wait_for(
                lambda: len(h.receiver.state.requests) == 2, "the revoke to be refused"
            )
            # The receiver refused: the strategy pauses a second, and the revoke waits for it.
            await settle()
            assert h.app.metrics.gauge_value("symbox_strategy_waiting", strategy="grants") == 1
            await h.advance(1.0)
        ended = await h.wait_status(run_id, "deescalated")
    assert answers == [200]
    assert [item.status for item in h.receiver.state.requests] == [200, 429, 200]
    metrics = h.app.metrics
    assert metrics.counter_value("symbox_strategy_throttled_total", strategy="grants") == 1
    # Not a failed attempt: nothing to retry later, no failure recorded.
    assert metrics.counter_value("symbox_deescalate_total", outcome="failed") == 0
    assert ended["grant"]["attempts"] == 0
