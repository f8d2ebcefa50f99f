"""Grants end on time when the process is SIGKILLed and restarted again and again under load.

The receiver's view is the judge: every grant it was sent is revoked, and none is held
longer than its duration, plus the downtime it lived through, plus a little.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from tests.e2e.chaos import ChaosPlan, run_chaos
from tests.fakes.receiver import GrantReceiver

# The guarantee's 2 s, and 1 s more: a connection a flooded receiver did not accept in
# time waits out TCP's 1 s SYN retransmission however soon symbox tries again. A failed
# revocation retried on the slow backoff (5-15 s) is far past this.
SLACK = 3.0


def test_sigkills_under_load_hold_no_grant_past_its_bound(
    tmp_path: Path, receiver: GrantReceiver
) -> None:
    # Replay a failure with the seed it printed: SYMBOX_CHAOS_SEED=N pytest ...
    seed = int(os.environ.get("SYMBOX_CHAOS_SEED") or random.randrange(1_000_000))
    print(f"chaos seed {seed}")
    plan = ChaosPlan(seed=seed, load_seconds=30.0, kills=6, slack=SLACK)
    result = run_chaos(tmp_path, receiver, plan)
    overruns = {name: round(value, 2) for name, value in result.overruns().items()}
    beyond = {name: round(value, 2) for name, value in result.overruns_beyond_downtime().items()}
    print(f"{len(result.grants)} grants, {result.downtime:.1f} s down, overruns {overruns}")
    print(f"overruns less the downtime each grant lived through: {beyond}")

    assert len(result.outages) == plan.kills
    assert len(result.grants) > 100, "the load should have made grants between the kills"
    # Every grant was revoked, at the receiver and in symbox's own records.
    assert not receiver.state.granted, f"seed {seed}: still granted: {receiver.state.granted}"
    assert not result.leftover, f"seed {seed}: runs left unsettled: {result.leftover}"
    assert all(grant.revoked_at is not None for grant in result.grants)
    late = sorted(result.late(), key=result.overrun, reverse=True)
    assert not late, f"seed {seed}: {len(late)} grants held too long:\n" + "\n".join(
        result.describe(grant) for grant in late[:10]
    )
