"""The pool's admission rules, without processes or clocks: shares and throttles."""

from __future__ import annotations

import pytest

from symbox.sandbox.admission import Admission, ThrottlePolicy


def test_a_scope_never_takes_more_than_its_share() -> None:
    rules = Admission(size=4, share=2)
    assert rules.admit("env a", "a.py", 0.0)
    assert rules.admit("env a", "a2.py", 0.0)
    assert not rules.admit("env a", "a.py", 0.0)
    assert rules.admit("env b", "b.py", 0.0)
    assert rules.admit("env c", "c.py", 0.0)
    # The pool is full: nobody else starts until a call ends.
    assert not rules.admit("env d", "d.py", 0.0)
    rules.release("env a", "a.py")
    assert rules.admit("env d", "d.py", 0.0)
    assert rules.running == 4


def test_timeouts_throttle_an_owner_to_one_call_for_a_while() -> None:
    rules = Admission(size=4, share=4, throttle=ThrottlePolicy(timeouts=3, window=60, cooldown=30))
    assert not rules.timed_out("loop.py", 0.0)
    assert not rules.timed_out("loop.py", 10.0)
    assert rules.timed_out("loop.py", 20.0)
    # Renewing a running throttle is not news.
    assert not rules.timed_out("loop.py", 21.0)
    assert rules.admit("env a", "loop.py", 22.0)
    assert not rules.admit("env a", "loop.py", 22.0)
    assert rules.admit("env a", "other.py", 22.0)
    # Once the cooldown after the last timeout is over, it runs freely again.
    assert rules.admit("env a", "loop.py", 51.5)


def test_timeouts_outside_the_window_do_not_add_up() -> None:
    rules = Admission(size=2, share=1, throttle=ThrottlePolicy(timeouts=2, window=10, cooldown=5))
    assert not rules.timed_out("slow.py", 0.0)
    assert not rules.timed_out("slow.py", 11.0)
    assert not rules.throttled("slow.py", 11.0)
    assert rules.timed_out("slow.py", 12.0)


def test_a_share_must_fit_the_pool() -> None:
    with pytest.raises(ValueError, match="share"):
        Admission(size=2, share=3)


def test_the_last_place_is_for_a_scope_with_nothing_running() -> None:
    rules = Admission(size=4, share=2)
    assert [rules.admit("env a", "a.py", 0.0) for _ in range(2)] == [True, True]
    assert rules.admit("env b", "b.py", 0.0)
    # env b already runs a call: the last place waits for a scope that runs none.
    assert not rules.admit("env b", "b.py", 0.0)
    assert rules.admit("env c", "c.py", 0.0)
