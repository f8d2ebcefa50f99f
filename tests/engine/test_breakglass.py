"""Break-glass, step by step with ``now`` passed in: who may, what is checked, the review."""

from __future__ import annotations

from dataclasses import replace

import pytest

from symbox.config.model import BreakGlass, Flow
from symbox.engine import breakglass
from symbox.engine.model import Actor, GrantState, ReviewState, RunStatus
from symbox.engine.permissions import DecisionRule
from symbox.engine.runs import Conflict, Forbidden
from tests.engine.flows import HERE
from tests.engine.test_runs import ALICE, CAROL, T0, flow_of, requested

REASON = "prod is down and nobody answers"


def glass_flow(longest: int = 600, length: int = 20) -> Flow:
    flow = flow_of()
    setting = BreakGlass(longest, length, HERE)
    return replace(flow, params=replace(flow.params, break_glass=setting))


def test_only_flows_with_the_block_and_only_people_may() -> None:
    assert breakglass.refusal(glass_flow(), CAROL) is None
    assert "no break_glass block" in (breakglass.refusal(flow_of(), CAROL) or "")
    assert "not a bot" in (breakglass.refusal(glass_flow(), Actor.bot("ci")) or "")


def test_the_reason_is_trimmed_and_the_duration_bounded() -> None:
    flow = glass_flow(longest=600, length=10)
    assert breakglass.input_problem(flow, "  short  ", 600) == (
        "reason: break-glass access needs a reason of at least 10 characters (got 5)"
    )
    assert breakglass.input_problem(flow, None, 600) is not None
    assert breakglass.input_problem(flow, "ten chars!", 600) is None
    assert breakglass.input_problem(flow, "ten chars!", 3600) == (
        "duration: break-glass access lasts at most 10m (asked for 1h)"
    )


def test_break_glass_approves_as_the_requester_and_needs_review() -> None:
    run = requested(glass_flow())
    glass = breakglass.break_glass(
        run, reason=f"  {REASON} ", now=T0 + 1, channel="api", target_key="prod_db"
    )
    approved = glass.run
    assert approved.status is RunStatus.APPROVED
    assert approved.decision is not None and approved.decision.actor == CAROL
    assert approved.decision.reason == REASON
    assert approved.grant is not None and approved.grant.state is GrantState.ESCALATING
    assert approved.review is not None and approved.review.state is ReviewState.NEEDS_REVIEW
    assert breakglass.needs_review(approved)
    [event] = glass.events
    assert (event.name, event.actor, event.id) == ("break_glass", CAROL, "r1.2")
    assert event.details == {"reason": REASON, "break_glass": True, "duration": 600}
    with pytest.raises(Conflict):
        breakglass.break_glass(
            approved, reason=REASON, now=T0 + 2, channel="api", target_key="prod_db"
        )


def test_a_review_is_by_an_approver_other_than_the_requester_and_happens_once() -> None:
    flow = glass_flow()
    run = breakglass.break_glass(
        requested(flow), reason=REASON, now=T0 + 1, channel="api", target_key="prod_db"
    ).run
    with pytest.raises(Forbidden, match="may not review their own"):
        breakglass.review(run, flow, actor=CAROL, reason=None, now=T0 + 5, channel="api")
    # Not even where the flow's rule lets requesters approve themselves.
    anyone = DecisionRule(approvers=None, allow_self_approval=True)
    with pytest.raises(Forbidden):
        breakglass.review(
            run, flow, actor=CAROL, reason=None, now=T0 + 5, channel="api", rule=anyone
        )
    with pytest.raises(Forbidden, match="not an approver"):
        breakglass.review(
            run, flow, actor=Actor.user("dave@example.com"), reason=None, now=T0, channel="api"
        )
    done = breakglass.review(run, flow, actor=ALICE, reason="ok", now=T0 + 5, channel="slack")
    assert done.run.review is not None
    assert (done.run.review.state, done.run.review.by) == (ReviewState.REVIEWED, ALICE)
    assert not breakglass.needs_review(done.run)
    assert [event.name for event in done.events] == ["review"]
    with pytest.raises(Conflict, match=r"already reviewed by alice@example\.com"):
        breakglass.review(done.run, flow, actor=ALICE, reason=None, now=T0 + 6, channel="api")
    with pytest.raises(Conflict, match="not a break-glass run"):
        breakglass.review(requested(flow), flow, actor=ALICE, reason=None, now=T0, channel="api")
