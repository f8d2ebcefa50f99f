"""The run state machine: each step takes a run and ``now`` and returns a transition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from symbox.config.model import Flow
from symbox.config.people import same_person
from symbox.engine.model import (
    Actor,
    Decision,
    Extension,
    ExtensionStatus,
    Grant,
    GrantState,
    Run,
    RunEvent,
    RunStatus,
)
from symbox.engine.permissions import DecisionRule, may_decide, may_revoke
from symbox.engine.quorum import counted, quorum_for
from symbox.engine.quorum import refusal as quorum_refusal
from symbox.engine.schedule import RetryPolicy


class Conflict(Exception):
    """The step no longer applies to the run as it is now (HTTP 409)."""


class Forbidden(Exception):
    """The actor may not take this step on this run (HTTP 403)."""


@dataclass(frozen=True)
class Transition:
    """A run's new state and the events that explain how it got there."""

    run: Run
    events: tuple[RunEvent, ...]


def grant_key(strategy: str, target: str, identity: str) -> str:
    """Name what a grant gives, so overlapping runs for the same access can be found."""
    return f"{strategy}/{target}/{identity.lower()}"


# Only access in place keeps another run's revoke from calling the strategy. An escalating
# grant may still fail without reaching the target, so it would cover nothing; if it
# succeeds, it waits for the key's lock and grants again after the revoke.
COVERING_STATES: tuple[GrantState, ...] = (GrantState.ACTIVE,)


def covers(grant: Grant | None) -> bool:
    """Tell whether ``grant`` holds access that another run's revoke must leave in place."""
    return grant is not None and grant.state in COVERING_STATES


def event_for(
    run: Run,
    name: str,
    actor: Actor,
    now: float,
    channel: str,
    details: Mapping[str, Any] | None = None,
    errors: tuple[str, ...] = (),
) -> RunEvent:
    """The event that explains how ``run`` (already evolved) came to be."""
    # The event id is derived from the run's version so a re-delivered record keeps its id.
    return RunEvent(
        id=f"{run.id}.{run.version}",
        run_id=run.id,
        name=name,
        actor=actor,
        at=now,
        channel=channel,
        status=run.status,
        details=dict(details or {}),
        errors=errors,
    )


def open_request(
    *,
    run_id: str,
    flow: Flow,
    requester: str,
    submitted_by: Actor,
    channel: str,
    fields: Mapping[str, Any],
    now: float,
    notifications: tuple[Mapping[str, Any], ...] = (),
    context: Mapping[str, Any] | None = None,
) -> Transition:
    """Create a run in ``requested`` for validated ``fields``, posted to ``notifications``."""
    target = fields.get("target")
    run = Run(
        id=run_id,
        flow=flow.name,
        requester=requester.lower(),
        submitted_by=submitted_by,
        channel=channel,
        fields=dict(fields),
        strategy=flow.params.strategy,
        target=target if isinstance(target, str) else None,
        status=RunStatus.REQUESTED,
        created_at=now,
        request_expires_at=now + flow.params.request_ttl,
        notifications=notifications,
        context=dict(context or {}),
        # A get_permissions hook may still ask for another number when someone decides.
        approvals_required=quorum_for(flow, None).required,
    )
    details: dict[str, Any] = {}
    if notifications:
        details["notifications"] = [dict(item) for item in notifications]
    if context:
        details["context"] = dict(context)
    return Transition(run, (event_for(run, "request", submitted_by, now, channel, details),))


def decide(
    run: Run,
    flow: Flow,
    *,
    actor: Actor,
    approve: bool,
    reason: str | None,
    now: float,
    channel: str,
    target_key: str | None,
    rule: DecisionRule | None = None,
) -> Transition:
    """Approve or deny a requested run; ``target_key`` is the target's config key.

    ``rule`` says who may decide (a ``get_permissions`` hook's answer); without one, the
    flow's ``vars`` do.
    """
    if run.status is not RunStatus.REQUESTED:
        raise Conflict(f"run {run.id} is {run.status}, not requested")
    if now >= run.request_expires_at:
        raise Conflict(f"run {run.id} expired before a decision")
    refusal = may_decide(rule or DecisionRule.from_vars(flow.vars), run, actor)
    if refusal is not None:
        raise Forbidden(refusal)
    decision = Decision(approved=approve, actor=actor, at=now, reason=reason)
    details: dict[str, Any] = {"reason": reason} if reason else {}
    approvals = (*run.approvals, decision) if approve else run.approvals
    # The flow's own code (a hook actor) decides outright; people count toward a quorum.
    quorum = quorum_for(flow, rule)
    if approve and actor.kind != "hook" and not quorum.single:
        refused = quorum_refusal(run, quorum, actor)
        if refused is not None:
            raise (Forbidden if refused[0] == "forbidden" else Conflict)(refused[1])
        given = counted(quorum, [item.actor for item in approvals])
        details.update(approvals=given, required=quorum.required)
        if given < quorum.required:
            partial = run.evolve(approvals=approvals, approvals_required=quorum.required)
            event = event_for(partial, "approve", actor, now, channel, details)
            return Transition(partial, (event,))
    if not approve:
        denied = run.evolve(
            status=RunStatus.DENIED, decision=decision, ended_at=now, ended_by=actor
        )
        return Transition(denied, (event_for(denied, "deny", actor, now, channel, details),))
    grant = None
    if run.strategy is not None and target_key is not None:
        # Keyed by the requester until bind_identity names who the strategy grants to.
        key = grant_key(run.strategy, target_key, run.requester)
        grant = Grant(key=key, state=GrantState.ESCALATING)
    approved = run.evolve(
        status=RunStatus.APPROVED,
        decision=decision,
        approvals=approvals,
        approvals_required=quorum.required,
        grant=grant,
    )
    if grant is None:
        # An approval-only flow ends here: there is nothing to grant or revoke.
        approved = replace(approved, ended_at=now)
    return Transition(approved, (event_for(approved, "approve", actor, now, channel, details),))


def hook_failed(run: Run, hook: str, error: str, now: float) -> Transition:
    """Record that a flow's hook raised: the run errors before anything is granted."""
    if run.status is not RunStatus.REQUESTED:
        raise Conflict(f"run {run.id} is {run.status}, not requested")
    new = run.evolve(status=RunStatus.ERRORED, errors=(*run.errors, error), ended_at=now)
    event = event_for(
        new, "hook_error", Actor.hook(hook), now, run.channel, {"hook": hook}, errors=(error,)
    )
    return Transition(new, (event,))


def after_hook_failed(run: Run, hook: str, error: str, now: float) -> Transition:
    """Record that an ``after_*`` hook raised: its step stands, the error is kept."""
    new = run.evolve(errors=(*run.errors, error))
    event = event_for(
        new, "hook_error", Actor.hook(hook), now, run.channel, {"hook": hook}, errors=(error,)
    )
    return Transition(new, (event,))


def bind_identity(run: Run, target_key: str, identity: str) -> Transition:
    """Record who an approved run's grant is made to; its key becomes that identity's.

    Stored before the strategy is called, so the revoke (after a restart too) takes away
    exactly what was granted whatever the mapping says by then, and overlapping runs are
    those granting the same strategy, target and identity. Nothing happened that the audit
    log must show yet, so there is no event.
    """
    grant = _require_grant(run, GrantState.ESCALATING)
    if run.strategy is None:
        raise Conflict(f"run {run.id} has no strategy to grant through")
    if grant.identity is not None:
        raise Conflict(f"run {run.id} already grants to {grant.identity}")
    key = grant_key(run.strategy, target_key, identity)
    return Transition(run.evolve(grant=replace(grant, key=key, identity=identity)), ())


def escalated(
    run: Run, flow: Flow, now: float, identity: str | None = None, output: object = None
) -> Transition:
    """Record that the strategy granted access (to the bound identity); the clock starts now.

    ``output`` is what the strategy answered, kept for hooks' ``get_step_output``.
    """
    grant = _require_grant(run, GrantState.ESCALATING)
    expires_at = None
    if flow.params.schedule_deescalation and run.duration is not None:
        expires_at = now + run.duration
    granted_to = identity or grant.identity
    new = run.evolve(
        status=RunStatus.ESCALATED,
        escalated_at=now,
        # Failed attempts before this one are history: revoking counts its own.
        grant=replace(
            grant,
            state=GrantState.ACTIVE,
            expires_at=expires_at,
            identity=granted_to,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
        ),
        step_outputs=_with_output(run, "escalate", output),
    )
    details = {"expires_at": expires_at}
    if grant.attempts:
        details["attempt"] = grant.attempts + 1
    return Transition(new, (event_for(new, "escalate", Actor.system(), now, run.channel, details),))


def escalation_retry_at(
    run: Run, flow: Flow, now: float, policy: RetryPolicy, jitter_sample: float
) -> float | None:
    """When to try a failed grant again, or None when it must fail now.

    Attempts go on with the retry policy's backoff until the flow's ``escalate_timeout``
    from the approval; the last one is made at that bound.
    """
    grant = _require_grant(run, GrantState.ESCALATING)
    started = run.decision.at if run.decision is not None else run.created_at
    deadline = started + flow.params.escalate_timeout
    if now >= deadline:
        return None
    return min(now + policy.retry_delay(grant.attempts + 1, jitter_sample), deadline)


def escalation_retried(run: Run, error: str, now: float, next_attempt_at: float) -> Transition:
    """Record a failed grant that is tried again at ``next_attempt_at``; the run waits."""
    grant = _require_grant(run, GrantState.ESCALATING)
    attempts = grant.attempts + 1
    new = run.evolve(
        grant=replace(grant, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error)
    )
    details = {"attempt": attempts, "next_attempt_at": next_attempt_at}
    event = event_for(
        new, "escalate_failed", Actor.system(), now, run.channel, details, errors=(error,)
    )
    return Transition(new, (event,))


def escalation_failed(
    run: Run,
    error: str,
    now: float,
    *,
    reached_target: bool = True,
    identity: str | None = None,
) -> Transition:
    """Record a failed grant; the run errors and any partial grant is revoked to be safe.

    When the target system was never called (``reached_target`` false) nothing can have
    been granted, so there is nothing to revoke.
    """
    grant = _require_grant(run, GrantState.ESCALATING)
    if reached_target:
        # The partial grant is taken back from whoever it was made to.
        ended = replace(
            grant,
            state=GrantState.REVOKING,
            next_attempt_at=now,
            identity=identity or grant.identity,
        )
    else:
        ended = replace(grant, state=GrantState.REVOKED)
    new = run.evolve(
        status=RunStatus.ERRORED,
        errors=(*run.errors, error),
        ended_at=now,
        grant=ended,
    )
    event = event_for(new, "escalate", Actor.system(), now, run.channel, errors=(error,))
    return Transition(new, (event,))


def request_revoke(
    run: Run, flow: Flow, *, actor: Actor, reason: str | None, now: float, channel: str
) -> Transition:
    """Ask for an escalated run's access to end now (an early de-escalation)."""
    if run.status is not RunStatus.ESCALATED or run.grant is None:
        raise Conflict(f"run {run.id} is {run.status}, not escalated")
    if run.grant.state is not GrantState.ACTIVE:
        raise Conflict(f"run {run.id} is already being de-escalated")
    if not flow.params.allow_revoke and actor.kind == "user":
        raise Forbidden(f"flow {flow.name} does not allow early revoke")
    refusal = may_revoke(flow.vars, run, actor)
    if refusal is not None:
        raise Forbidden(refusal)
    grant = replace(run.grant, state=GrantState.REVOKING, next_attempt_at=now)
    new = run.evolve(grant=grant, ended_by=actor)
    details = {"reason": reason} if reason else {}
    return Transition(new, (event_for(new, "deescalate_requested", actor, now, channel, details),))


def revoke_due(run: Run, now: float) -> bool:
    """Tell whether the run's access should be taken away at ``now``."""
    grant = run.grant
    if grant is None:
        return False
    if grant.state is GrantState.ACTIVE:
        return grant.expires_at is not None and grant.expires_at <= now
    if grant.state in (GrantState.REVOKING, GrantState.FAILING):
        return grant.next_attempt_at is not None and grant.next_attempt_at <= now
    return False


def deescalated(
    run: Run, now: float, covered_by: str | None = None, output: object = None
) -> Transition:
    """Record that access ended (or was left to an overlapping run that still covers it)."""
    grant = run.grant
    if grant is None or grant.state in (GrantState.REVOKED, GrantState.ESCALATING):
        raise Conflict(f"run {run.id} has no access to revoke")
    status = RunStatus.ERRORED if run.status is RunStatus.ERRORED else RunStatus.DEESCALATED
    ended_by = run.ended_by or Actor.system()
    new = run.evolve(
        status=status,
        ended_at=run.ended_at if status is RunStatus.ERRORED else now,
        ended_by=ended_by,
        grant=replace(grant, state=GrantState.REVOKED, next_attempt_at=None, last_error=None),
        step_outputs=_with_output(run, "deescalate", output),
        extension=_lapsed(run.extension),
    )
    details: dict[str, Any] = {"reason": _end_reason(run)}
    if covered_by is not None:
        details["covered_by"] = covered_by
    if new.extension is not run.extension:
        details["extension"] = "lapsed"
    return Transition(new, (event_for(new, "deescalate", ended_by, now, run.channel, details),))


def _lapsed(extension: Extension | None) -> Extension | None:
    """An extension nobody decided before the grant ended no longer applies."""
    if extension is None or extension.status is not ExtensionStatus.PENDING:
        return extension
    return replace(extension, status=ExtensionStatus.LAPSED)


def _with_output(run: Run, step: str, output: object) -> Mapping[str, Any]:
    """The run's step outputs with ``step``'s (a step that answered nothing keeps none)."""
    if output is None:
        return run.step_outputs
    return {**run.step_outputs, step: output}


def _end_reason(run: Run) -> str:
    if run.status is RunStatus.ERRORED:
        return "cleanup after failed escalation"
    return "revoked" if run.ended_by is not None else "expired"


def deescalation_failed(
    run: Run, error: str, now: float, policy: RetryPolicy, jitter_sample: float, permanent: bool
) -> Transition:
    """Record a failed revoke and when to try again; past the bound the grant is failing."""
    grant = run.grant
    if grant is None or grant.state in (GrantState.REVOKED, GrantState.ESCALATING):
        raise Conflict(f"run {run.id} has no access to revoke")
    attempts = grant.attempts + 1
    failing = permanent or attempts >= policy.max_attempts
    delay = policy.slow_interval if failing else policy.retry_delay(attempts, jitter_sample)
    new = run.evolve(
        grant=replace(
            grant,
            state=GrantState.FAILING if failing else GrantState.REVOKING,
            attempts=attempts,
            next_attempt_at=now + delay,
            last_error=error,
        )
    )
    details = {"attempt": attempts, "next_attempt_at": now + delay, "failing": failing}
    event = event_for(
        new, "deescalate_failed", Actor.system(), now, run.channel, details, errors=(error,)
    )
    return Transition(new, (event,))


def routing_due(run: Run) -> tuple[str, float] | None:
    """What a waiting request's routing calls for next: ``("forward" | "expire", when)``.

    A notification with a timeout is forwarded to the next one when nobody decided in
    time; when the last one has a timeout too, the request expires then.
    """
    if run.status is not RunStatus.REQUESTED or run.notified >= len(run.notifications):
        return None
    timeout = run.notifications[run.notified].get("timeout")
    if not isinstance(timeout, int | float):
        return None
    at = (run.created_at if run.notified_at is None else run.notified_at) + float(timeout)
    if run.notified + 1 < len(run.notifications):
        return "forward", at
    return "expire", at


def request_expiry(run: Run) -> float:
    """When a waiting request expires: its time to live, or its last notification's timeout."""
    routing = routing_due(run)
    if routing is not None and routing[0] == "expire":
        return min(run.request_expires_at, routing[1])
    return run.request_expires_at


def forward_request(run: Run, now: float) -> Transition:
    """Post a request nobody decided to its next notification's destinations."""
    routing = routing_due(run)
    if routing is None or routing[0] != "forward" or now < routing[1]:
        raise Conflict(f"run {run.id} has no request to forward now")
    index = run.notified + 1
    new = run.evolve(notified=index, notified_at=now)
    details = {
        "notification": index,
        "destinations": list(run.notifications[index].get("destinations") or ()),
    }
    event = event_for(new, "request_forward", Actor.system(), now, run.channel, details)
    return Transition(new, (event,))


def expire_request(run: Run, now: float) -> Transition:
    """End a request nobody decided before its time to live."""
    if run.status is not RunStatus.REQUESTED or now < request_expiry(run):
        raise Conflict(f"run {run.id} is not an expired request")
    new = run.evolve(status=RunStatus.EXPIRED, ended_at=now, ended_by=Actor.system())
    return Transition(new, (event_for(new, "request_expire", Actor.system(), now, run.channel),))


def withdraw(run: Run, *, actor: Actor, reason: str | None, now: float, channel: str) -> Transition:
    """End a request nobody decided yet, at its requester's (or submitting bot's) wish."""
    if run.status is not RunStatus.REQUESTED:
        raise Conflict(f"run {run.id} is {run.status}, not requested")
    own = actor.kind == "user" and same_person(actor.id, run.requester)
    if not own and actor != run.submitted_by:
        raise Forbidden(f"only the requester of run {run.id} may withdraw it")
    new = run.evolve(status=RunStatus.WITHDRAWN, ended_at=now, ended_by=actor)
    details = {"reason": reason} if reason else {}
    return Transition(new, (event_for(new, "withdraw", actor, now, channel, details),))


def due_at(run: Run) -> float | None:
    """When the run next needs symbox to act on its own, if ever."""
    if run.status is RunStatus.REQUESTED:
        routing = routing_due(run)
        expiry = request_expiry(run)
        return expiry if routing is None else min(expiry, routing[1])
    grant = run.grant
    if grant is None:
        return None
    if grant.state is GrantState.ESCALATING:
        if grant.next_attempt_at is not None:
            return grant.next_attempt_at
        return run.decision.at if run.decision is not None else run.created_at
    if grant.state is GrantState.ACTIVE:
        return grant.expires_at
    if grant.state in (GrantState.REVOKING, GrantState.FAILING):
        return grant.next_attempt_at
    return None


def _require_grant(run: Run, state: GrantState) -> Grant:
    if run.grant is None or run.grant.state is not state:
        raise Conflict(f"run {run.id} has no grant in state {state}")
    return run.grant
