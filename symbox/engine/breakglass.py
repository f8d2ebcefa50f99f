"""Break-glass: a requester grants themself access now, and an approver reviews it after.

The run is approved by its requester (the decision's actor) in a ``break_glass`` event,
escalates as any approval does and keeps its normal life (escalated, then deescalated
when the timer ends it). Its ``review`` stays ``needs_review`` until someone permitted to
approve the flow, other than the requester, reviews it.
"""

from __future__ import annotations

from symbox.config.durations import format_duration
from symbox.config.model import Flow
from symbox.config.people import same_person
from symbox.engine.model import (
    Actor,
    Decision,
    Grant,
    GrantState,
    Review,
    ReviewState,
    Run,
    RunStatus,
)
from symbox.engine.permissions import DecisionRule, may_decide
from symbox.engine.runs import Conflict, Forbidden, Transition, event_for, grant_key

# The event (and audit record type) of a break-glass grant, and of its review.
BREAK_GLASS = "break_glass"
REVIEW = "review"


def refusal(flow: Flow, actor: Actor) -> str | None:
    """Why ``actor`` may not break the glass on ``flow`` at all, or None."""
    if flow.params.break_glass is None:
        return f"flow {flow.name} has no break_glass block: its access needs an approver"
    if actor.kind != "user":
        # Nobody could say afterwards who chose to skip the approval: only people may.
        return "only the requester themself (a user token) may break the glass, not a bot"
    return None


def input_problem(flow: Flow, reason: str | None, duration: int | None) -> str | None:
    """What is wrong with a break-glass request's reason or duration, or None."""
    setting = flow.params.break_glass
    if setting is None:
        return None
    given = len((reason or "").strip())
    if given < setting.reason_min_length:
        return (
            f"reason: break-glass access needs a reason of at least "
            f"{setting.reason_min_length} characters (got {given})"
        )
    if duration is None or duration > setting.max_duration:
        shown = "none" if duration is None else format_duration(duration)
        return (
            f"duration: break-glass access lasts at most "
            f"{format_duration(setting.max_duration)} (asked for {shown})"
        )
    return None


def break_glass(
    run: Run, *, reason: str, now: float, channel: str, target_key: str | None
) -> Transition:
    """Approve a just-requested run as its own requester, to be reviewed afterwards."""
    if run.status is not RunStatus.REQUESTED:
        raise Conflict(f"run {run.id} is {run.status}, not requested")
    if run.strategy is None or target_key is None:
        raise Conflict(f"run {run.id} has no target to grant")
    actor = Actor.user(run.requester)
    reason = reason.strip()
    grant = Grant(
        key=grant_key(run.strategy, target_key, run.requester), state=GrantState.ESCALATING
    )
    approved = run.evolve(
        status=RunStatus.APPROVED,
        decision=Decision(approved=True, actor=actor, at=now, reason=reason),
        grant=grant,
        review=Review(ReviewState.NEEDS_REVIEW),
    )
    details = {"reason": reason, "break_glass": True, "duration": run.duration}
    return Transition(approved, (event_for(approved, BREAK_GLASS, actor, now, channel, details),))


def review(
    run: Run,
    flow: Flow,
    *,
    actor: Actor,
    reason: str | None,
    now: float,
    channel: str,
    rule: DecisionRule | None = None,
) -> Transition:
    """Record that ``actor``, permitted to approve ``flow``, reviewed a break-glass run."""
    if run.review is None:
        raise Conflict(f"run {run.id} is not a break-glass run")
    if run.review.state is ReviewState.REVIEWED:
        raise Conflict(f"run {run.id} was already reviewed by {run.review.by}")
    if actor.kind == "user" and same_person(actor.id, run.requester):
        # Even where requesters may approve their own requests: a review is a second pair
        # of eyes.
        raise Forbidden("the requester may not review their own break-glass access")
    problem = may_decide(rule or DecisionRule.from_vars(flow.vars), run, actor)
    if problem is not None:
        raise Forbidden(problem)
    reviewed = run.evolve(
        review=Review(ReviewState.REVIEWED, by=actor, at=now, reason=reason or None)
    )
    details = {"reason": reason} if reason else {}
    return Transition(reviewed, (event_for(reviewed, REVIEW, actor, now, channel, details),))


def needs_review(run: Run) -> bool:
    """Tell whether ``run`` is break-glass access nobody has reviewed yet."""
    return run.review is not None and run.review.state is ReviewState.NEEDS_REVIEW
