"""Reconciliation as a pure decision: what a target has, against what symbox granted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TargetView:
    """One target seen from both sides, by remote identity."""

    # Who holds the target's access in the target system now.
    holders: frozenset[str]
    # Identities symbox holds (or is granting or revoking) access for, with their emails.
    managed: Mapping[str, str]
    # Identities symbox granted in the past whose runs are all over, with their emails.
    ended: Mapping[str, str]


@dataclass(frozen=True)
class Plan:
    """What to do about a target."""

    # (identity, email): access symbox granted for a run that is over, still in place.
    stale: tuple[tuple[str, str], ...]
    # Identities holding access that symbox never granted.
    unmanaged: tuple[str, ...]


def plan(view: TargetView) -> Plan:
    """Stale grants are symbox's to remove; unmanaged access is only reported."""
    stale = tuple(
        sorted(
            (identity, view.ended[identity])
            for identity in view.holders
            if identity not in view.managed and identity in view.ended
        )
    )
    unmanaged = tuple(
        sorted(
            identity
            for identity in view.holders
            if identity not in view.managed and identity not in view.ended
        )
    )
    return Plan(stale, unmanaged)
