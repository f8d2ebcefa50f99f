"""Extending a grant, step by step, with ``now`` passed in."""

from __future__ import annotations

from dataclasses import replace

import pytest

from symbox.config.model import Flow
from symbox.engine import extensions, runs
from symbox.engine.model import Actor, ExtensionStatus, GrantState, Run
from tests.engine.test_runs import ALICE, CAROL, T0, escalated, flow_of

CI = Actor.bot("ci")


def limited(up_to: int | None = 600) -> Flow:
    """The access flow (1m, 10m or 1h) extending by up to ``up_to`` without approval."""
    flow = flow_of()
    return replace(flow, params=replace(flow.params, extend_without_approval_up_to=up_to))


def ask(run: Run, flow: Flow, seconds: int, actor: Actor = CAROL, now: float = T0 + 20) -> Run:
    automatic = extensions.extends_without_approval(run, flow, seconds)
    return extensions.request_extension(
        run,
        flow,
        actor=actor,
        duration=seconds,
        reason=None,
        now=now,
        channel="api",
        automatic=automatic,
    ).run


def test_within_the_limit_and_the_maximum_the_expiry_moves_at_once() -> None:
    flow = limited()
    run = escalated(flow)  # 10 minutes from T0 + 10
    extended = ask(run, flow, 600)
    assert extended.grant is not None and extended.grant.expires_at == T0 + 1210
    assert extended.extension is not None
    assert extended.extension.status is ExtensionStatus.APPROVED
    assert runs.due_at(extended) == T0 + 1210
    # 10m + 10m + 10m + 10m + 10m + 10m = 1h, the flow's maximum; one more needs approval.
    for _ in range(4):
        extended = ask(extended, flow, 600)
    assert extended.grant is not None and extended.grant.expires_at == T0 + 3610
    assert not extensions.extends_without_approval(extended, flow, 60)


@pytest.mark.parametrize(("up_to", "seconds"), [(None, 60), (600, 601), (60, 600)])
def test_past_the_limit_or_without_one_the_extension_waits(up_to: int | None, seconds: int) -> None:
    flow = limited(up_to)
    run = ask(escalated(flow), flow, seconds)
    assert run.extension is not None and run.extension.status is ExtensionStatus.PENDING
    assert run.grant is not None and run.grant.expires_at == T0 + 610
    assert runs.due_at(run) == T0 + 610


def test_an_approval_may_pass_the_maximum_and_a_denial_keeps_the_expiry() -> None:
    flow = limited()
    run = ask(escalated(flow), flow, 7200)
    decide = extensions.decide_extension
    with pytest.raises(runs.Forbidden):
        decide(run, flow, actor=CAROL, approve=True, reason=None, now=T0 + 30, channel="api")
    approved = decide(run, flow, actor=ALICE, approve=True, reason="ok", now=T0 + 30, channel="api")
    assert approved.run.grant is not None and approved.run.grant.expires_at == T0 + 7810
    [event] = approved.events
    assert event.name == "extend"
    assert event.details["old_expires_at"] == T0 + 610
    assert event.details["approval"] == "approved"
    denied = decide(run, flow, actor=ALICE, approve=False, reason="no", now=T0 + 30, channel="api")
    assert denied.run.grant == run.grant
    assert denied.run.extension is not None
    assert denied.run.extension.status is ExtensionStatus.DENIED
    with pytest.raises(runs.Conflict):
        decide(denied.run, flow, actor=ALICE, approve=True, reason=None, now=T0, channel="api")
    with pytest.raises(runs.Conflict, match="expired before"):
        decide(run, flow, actor=ALICE, approve=True, reason=None, now=T0 + 610, channel="api")


def test_who_may_extend() -> None:
    flow = limited()
    run = escalated(flow)
    assert extensions.may_extend(run, CAROL) is None
    assert extensions.may_extend(run, ALICE) is not None
    assert extensions.may_extend(run, CI) is not None
    by_bot = replace(run, submitted_by=CI)
    assert extensions.may_extend(by_bot, CI) is None
    with pytest.raises(runs.Forbidden):
        ask(run, flow, 60, actor=ALICE)


def test_only_an_active_grant_before_its_expiry_is_extended() -> None:
    flow = limited()
    run = escalated(flow)
    with pytest.raises(runs.Conflict, match="has expired"):
        ask(run, flow, 60, now=T0 + 610)
    assert run.grant is not None
    revoking = replace(run, grant=replace(run.grant, state=GrantState.REVOKING))
    with pytest.raises(runs.Conflict):
        ask(revoking, flow, 60)
    pending = ask(run, flow, 3600)
    with pytest.raises(runs.Conflict, match="already has an extension"):
        ask(pending, flow, 60)


def test_an_undecided_extension_lapses_when_the_grant_ends() -> None:
    flow = limited()
    pending = ask(escalated(flow), flow, 3600)
    due = runs.revoke_due(pending, T0 + 610)
    assert due
    assert pending.grant is not None
    revoking = pending.evolve(grant=replace(pending.grant, state=GrantState.REVOKING))
    ended = runs.deescalated(revoking, T0 + 611)
    assert ended.run.extension is not None
    assert ended.run.extension.status is ExtensionStatus.LAPSED
    assert ended.events[0].details["extension"] == "lapsed"
