"""The expiry heap and the retry policy."""

from __future__ import annotations

import pytest

from symbox.engine.schedule import ExpirySchedule, RetryPolicy


def test_pop_due_returns_runs_in_due_order_up_to_now() -> None:
    schedule = ExpirySchedule()
    schedule.set("c", 30.0)
    schedule.set("a", 10.0)
    schedule.set("b", 20.0)
    assert schedule.next_due() == 10.0
    assert schedule.pop_due(25.0, limit=10) == ["a", "b"]
    assert len(schedule) == 1 and schedule.next_due() == 30.0


def test_rearming_replaces_and_disarming_removes() -> None:
    schedule = ExpirySchedule()
    schedule.set("a", 10.0)
    schedule.set("a", 50.0)
    schedule.set("b", 20.0)
    schedule.set("b", None)
    assert schedule.pop_due(40.0, limit=10) == []
    assert schedule.next_due() == 50.0
    assert schedule.pop_due(50.0, limit=10) == ["a"]
    assert schedule.next_due() is None and len(schedule) == 0


def test_limit_bounds_a_batch() -> None:
    schedule = ExpirySchedule()
    schedule.load([(f"r{i}", float(i)) for i in range(100)])
    assert schedule.pop_due(1000.0, limit=30) == [f"r{i}" for i in range(30)]
    assert len(schedule) == 70


def test_many_rearms_do_not_leak_due_entries() -> None:
    schedule = ExpirySchedule()
    for moment in range(1000):
        schedule.set("a", float(moment))
    assert schedule.pop_due(10_000.0, limit=10) == ["a"]
    assert schedule.next_due() is None


@pytest.mark.parametrize("sample", [0.0, 0.25, 0.5, 0.999])
def test_backoff_grows_exponentially_within_the_jitter(sample: float) -> None:
    policy = RetryPolicy(base=10.0, factor=2.0, jitter=0.5)
    for attempt in range(1, 6):
        nominal = 10.0 * 2 ** (attempt - 1)
        assert nominal * 0.5 <= policy.delay(attempt, sample) < nominal * 1.5
    assert policy.delay(1, 0.5) == 10.0


@pytest.mark.parametrize("sample", [0.0, 0.5, 0.999])
def test_the_first_retry_comes_soon_then_the_backoff(sample: float) -> None:
    policy = RetryPolicy(first=0.5, base=10.0, factor=2.0, jitter=0.5)
    assert 0.25 <= policy.retry_delay(1, sample) < 0.75
    for attempt in range(2, 6):
        assert policy.retry_delay(attempt, sample) == policy.delay(attempt, sample)
    assert policy.retry_delay(1, 0.5) == 0.5
