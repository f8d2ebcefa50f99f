"""The reconciliation plan: stale grants, unmanaged access, and what symbox still holds."""

from __future__ import annotations

from symbox.engine.reconcile import Plan, TargetView, plan


def test_access_symbox_still_holds_is_left_alone() -> None:
    view = TargetView(frozenset({"carol"}), managed={"carol": "carol@x"}, ended={})
    assert plan(view) == Plan(stale=(), unmanaged=())


def test_access_left_behind_by_an_ended_run_is_stale() -> None:
    view = TargetView(frozenset({"carol", "dave"}), managed={}, ended={"carol": "carol@x"})
    assert plan(view) == Plan(stale=(("carol", "carol@x"),), unmanaged=("dave",))


def test_an_ended_run_does_not_make_a_current_grant_stale() -> None:
    # Carol had a grant that ended and holds another one now: nothing to remove.
    view = TargetView(frozenset({"carol"}), managed={"carol": "carol@x"}, ended={"carol": "c@x"})
    assert plan(view) == Plan(stale=(), unmanaged=())


def test_gone_access_needs_nothing() -> None:
    view = TargetView(frozenset(), managed={"carol": "carol@x"}, ended={"dave": "dave@x"})
    assert plan(view) == Plan(stale=(), unmanaged=())


def test_an_identity_granted_before_a_remapping_is_stale_beside_the_new_one() -> None:
    # Carol was re-mapped: her ended run granted 00u1, her live one 00u2. Holders are
    # compared by identity granted, so her live grant does not keep the old one.
    view = TargetView(
        frozenset({"00u1", "00u2"}), managed={"00u2": "carol@x"}, ended={"00u1": "carol@x"}
    )
    assert plan(view) == Plan(stale=(("00u1", "carol@x"),), unmanaged=())
