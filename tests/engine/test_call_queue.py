"""The call queue's order and limits, on a clock the tests move by hand."""

from __future__ import annotations

import pytest

from symbox.config.call_limits import CallLimits
from symbox.engine.call_queue import BACKOFF_BASE, CallQueue, Place, Rank, RateWindow

T0 = 1_000.0


def drain(queue: CallQueue, now: float) -> list[Place]:
    """Every call ``queue`` hands out at ``now``, each started and finished at once."""
    handed = []
    while (place := queue.next(now)) is not None:
        queue.started(place, now)
        queue.finished(place, ok=True)
        handed.append(place)
    return handed


def test_revocations_go_before_grants_and_oldest_due_first() -> None:
    queue = CallQueue(CallLimits(concurrency=1))
    grant_old = queue.join(Rank.GRANT, T0 - 50)
    revoke_late = queue.join(Rank.REVOKE, T0 - 1)
    revoke_early = queue.join(Rank.REVOKE, T0 - 10)
    grant_new = queue.join(Rank.GRANT, T0 - 5)
    revoke_tie = queue.join(Rank.REVOKE, T0 - 10)
    assert drain(queue, T0) == [revoke_early, revoke_tie, revoke_late, grant_old, grant_new]


def test_concurrency_holds_calls_until_one_finishes() -> None:
    queue = CallQueue(CallLimits(concurrency=2))
    places = [queue.join(Rank.REVOKE, T0 + i) for i in range(3)]
    first, second = queue.next(T0), queue.next(T0)
    assert [first, second] == places[:2]
    # Time alone does not help: a slot must be freed.
    assert queue.next(T0 + 100) is None and queue.ready_in(T0 + 100) is None
    assert first is not None
    queue.finished(first, ok=False)
    assert queue.next(T0 + 100) == places[2]
    assert queue.running == 2 and queue.waiting == 0


def test_no_window_holds_more_calls_than_the_rate() -> None:
    queue = CallQueue(CallLimits(calls=20, per=1.0))
    for i in range(100):
        queue.join(Rank.REVOKE, T0 + i)
    starts: list[float] = []
    now = T0
    while True:
        starts += [now] * len(drain(queue, now))
        if not queue.waiting:
            break
        wait = queue.ready_in(now)
        assert wait is not None
        now += max(wait, 0.01)
    assert len(starts) == 100
    for index, start in enumerate(starts):
        assert sum(1 for other in starts[index:] if other < start + 1.0) <= 20
    # ... and the rate is used in full: 100 calls in 5 windows.
    assert starts[-1] - starts[0] < 5.0


def test_calls_handed_out_count_from_when_they_start() -> None:
    window = RateWindow(calls=2, per=1.0)
    window.started(T0)
    # One start and one call handed out but not started fill the window until the start
    # leaves it; two calls not yet started fill it until they start, whatever the time.
    assert window.ready_in(T0 + 0.5, reserved=1) == 0.5
    assert window.ready_in(T0 + 0.5, reserved=2) is None
    window.started(T0 + 0.9)
    assert window.ready_in(T0 + 1.2) == 0.0
    assert window.ready_in(T0 + 1.2, reserved=1) == pytest.approx(0.7)


def test_a_throttled_call_keeps_its_place_and_the_strategy_pauses() -> None:
    queue = CallQueue(CallLimits(concurrency=4))
    first = queue.join(Rank.REVOKE, T0 - 3)
    second = queue.join(Rank.REVOKE, T0 - 2)
    handed = queue.next(T0)
    assert handed == first
    queue.started(first, T0)
    later = queue.join(Rank.REVOKE, T0 - 1)
    assert queue.throttled(first, T0, retry_after=None) == BACKOFF_BASE
    # Paused: nobody goes, then the throttled call goes first again.
    assert queue.next(T0 + 0.5) is None
    assert queue.ready_in(T0 + 0.5) == BACKOFF_BASE - 0.5
    assert [queue.next(T0 + 1), queue.next(T0 + 1), queue.next(T0 + 1)] == [first, second, later]


def test_backoff_doubles_without_a_hint_and_a_hint_is_obeyed() -> None:
    queue = CallQueue(CallLimits())
    place = queue.join(Rank.GRANT, T0)
    now = T0
    pauses = []
    for _ in range(3):
        handed = queue.next(now + 100)
        assert handed == place
        now += 100
        pauses.append(queue.throttled(place, now, retry_after=None))
    assert pauses == [1.0, 2.0, 4.0]
    handed = queue.next(now + 10)
    assert handed == place
    assert queue.throttled(place, now + 10, retry_after=30.0) == 30.0
    assert queue.ready_in(now + 10) == 30.0
    # A success resets the backoff.
    assert queue.next(now + 40) == place
    queue.finished(place, ok=True)
    again = queue.join(Rank.GRANT, T0)
    assert queue.next(now + 40) == again
    assert queue.throttled(again, now + 40, retry_after=None) == 1.0


def test_a_caller_that_leaves_frees_its_place() -> None:
    queue = CallQueue(CallLimits(concurrency=1))
    gone = queue.join(Rank.REVOKE, T0 - 9)
    kept = queue.join(Rank.REVOKE, T0)
    queue.leave(gone)
    assert queue.head() == kept and queue.waiting == 1
    assert queue.next(T0) == kept
    queue.leave(kept)
    assert queue.running == 0


def test_calls_refused_together_pause_the_strategy_once() -> None:
    queue = CallQueue(CallLimits(concurrency=3))
    places = [queue.join(Rank.REVOKE, T0 + i) for i in range(3)]
    assert [queue.next(T0) for _ in places] == places
    # Three calls in flight, all refused: one episode, one pause of the base backoff.
    assert [queue.throttled(place, T0 + 0.01, retry_after=None) for place in places] == [
        BACKOFF_BASE
    ] * 3
    assert queue.ready_in(T0 + 0.01) == BACKOFF_BASE
    # Refused again after the pause: the backoff doubles.
    assert queue.next(T0 + 1.01) == places[0]
    assert queue.throttled(places[0], T0 + 1.02, retry_after=None) == 2 * BACKOFF_BASE
