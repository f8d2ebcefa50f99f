"""Extending an escalated run's grant: who may ask, when it needs approval, how expiry moves."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from symbox.config.model import Flow
from symbox.config.people import same_person
from symbox.engine.inputs import MAX_DURATION
from symbox.engine.model import Actor, Extension, ExtensionStatus, GrantState, Run, RunStatus
from symbox.engine.permissions import DecisionRule, may_decide
from symbox.engine.runs import Conflict, Forbidden, Transition, event_for


def may_extend(run: Run, actor: Actor) -> str | None:
    """Return why ``actor`` may not ask for more time on ``run``, or None.

    The requester may, and so may the bot token that submitted the request for them: more
    time is more access, so approvers and other bots may not ask for it.
    """
    if actor.kind == "user" and same_person(actor.id, run.requester):
        return None
    if actor.kind == "bot" and actor == run.submitted_by:
        return None
    return f"only the requester of run {run.id} (or the bot that submitted it) may extend it"


def max_duration(flow: Flow) -> int:
    """The longest a grant may last from its escalation without a new approval."""
    return flow.max_duration or MAX_DURATION


def check_extendable(run: Run, actor: Actor, now: float) -> float:
    """Refuse an extension that cannot apply now; return the grant's current expiry."""
    if run.status is not RunStatus.ESCALATED or run.grant is None:
        raise Conflict(f"run {run.id} is {run.status}, not escalated")
    if run.grant.state is not GrantState.ACTIVE:
        raise Conflict(f"run {run.id} is already being de-escalated")
    expires_at = run.grant.expires_at
    if expires_at is None:
        raise Conflict(f"run {run.id} has no expiry to extend")
    if now >= expires_at:
        raise Conflict(f"run {run.id} has expired")
    refusal = may_extend(run, actor)
    if refusal is not None:
        raise Forbidden(refusal)
    if run.extension is not None and run.extension.status is ExtensionStatus.PENDING:
        raise Conflict(f"run {run.id} already has an extension waiting for a decision")
    return expires_at


def extends_without_approval(run: Run, flow: Flow, duration: int) -> bool:
    """Tell whether the flow lets this extension apply at once, without a new approval.

    It must be no longer than ``extend_without_approval_up_to`` and keep the grant within
    the flow's maximum duration counted from the original escalation.
    """
    limit = flow.params.extend_without_approval_up_to
    grant = run.grant
    if limit is None or duration > limit or grant is None or grant.expires_at is None:
        return False
    started = run.escalated_at if run.escalated_at is not None else grant.expires_at
    return grant.expires_at + duration - started <= max_duration(flow)


def _asked(run: Run, actor: Actor, duration: int, reason: str | None, now: float) -> Extension:
    check_extendable(run, actor, now)
    return Extension(
        duration=duration,
        requested_at=now,
        requested_by=actor,
        reason=reason,
        status=ExtensionStatus.PENDING,
    )


def request_extension(
    run: Run,
    flow: Flow,
    *,
    actor: Actor,
    duration: int,
    reason: str | None,
    now: float,
    channel: str,
    automatic: bool,
) -> Transition:
    """Ask for ``duration`` more seconds: applied at once when ``automatic``, else pending."""
    extension = _asked(run, actor, duration, reason, now)
    if automatic:
        return _extended(run, extension, actor, now, channel, "automatic", None)
    new = run.evolve(extension=extension)
    details = {"duration": duration, **({"reason": reason} if reason else {})}
    return Transition(new, (event_for(new, "extend_request", actor, now, channel, details),))


def hook_decided_extension(
    run: Run,
    *,
    actor: Actor,
    hook: Actor,
    duration: int,
    reason: str | None,
    now: float,
    channel: str,
    approve: bool,
    message: str | None,
    error: str | None = None,
) -> Transition:
    """An extension the flow's ``on_extend`` decided as it was asked (or denied by failing).

    One event, by the hook: ``extend`` when it approved (the flow's limits do not apply,
    as for any approval), else ``extend_deny``, carrying the hook's error if it raised.
    """
    extension = _asked(run, actor, duration, reason, now)
    if approve:
        return _extended(run, extension, hook, now, channel, "hook", message)
    errors = () if error is None else (error,)
    # The hook's error is kept on the run, as for any hook that fails.
    kept = replace(run, errors=(*run.errors, *errors))
    return _denied(kept, extension, hook, now, channel, message, errors)


def decide_extension(
    run: Run,
    flow: Flow,
    *,
    actor: Actor,
    approve: bool,
    reason: str | None,
    now: float,
    channel: str,
    rule: DecisionRule | None = None,
) -> Transition:
    """Approve or deny a pending extension; an approval may pass the flow's maximum."""
    extension = run.extension
    if extension is None or extension.status is not ExtensionStatus.PENDING:
        raise Conflict(f"run {run.id} has no extension waiting for a decision")
    grant = run.grant
    if (
        run.status is not RunStatus.ESCALATED
        or grant is None
        or grant.state is not GrantState.ACTIVE
    ):
        raise Conflict(f"run {run.id}'s grant ended before its extension was decided")
    if grant.expires_at is not None and now >= grant.expires_at:
        # The timer may be revoking it right now: a late approval must not claim more time.
        raise Conflict(f"run {run.id} has expired before its extension was decided")
    refusal = may_decide(rule or DecisionRule.from_vars(flow.vars), run, actor)
    if refusal is not None:
        raise Forbidden(refusal)
    if approve:
        return _extended(run, extension, actor, now, channel, "approved", reason)
    return _denied(run, extension, actor, now, channel, reason)


def _denied(
    run: Run,
    extension: Extension,
    actor: Actor,
    now: float,
    channel: str,
    reason: str | None,
    errors: tuple[str, ...] = (),
) -> Transition:
    """The extension refused; the grant keeps its expiry."""
    new = run.evolve(extension=_decided(extension, ExtensionStatus.DENIED, actor, now, reason))
    details: dict[str, Any] = {"duration": extension.duration, "requested_by": _who(extension)}
    if reason:
        details["reason"] = reason
    event = event_for(new, "extend_deny", actor, now, channel, details, errors=errors)
    return Transition(new, (event,))


def _decided(
    extension: Extension, status: ExtensionStatus, actor: Actor, now: float, reason: str | None
) -> Extension:
    return replace(
        extension, status=status, decided_by=actor, decided_at=now, decision_reason=reason
    )


def _who(extension: Extension) -> dict[str, str]:
    return extension.requested_by.as_dict()


def _extended(
    run: Run,
    extension: Extension,
    actor: Actor,
    now: float,
    channel: str,
    approval: str,
    reason: str | None,
) -> Transition:
    """Move the grant's expiry by the extension; the ``extend`` event says from and to."""
    grant = run.grant
    assert grant is not None and grant.expires_at is not None
    old = grant.expires_at
    new_expiry = old + extension.duration
    decided = _decided(extension, ExtensionStatus.APPROVED, actor, now, reason)
    new = run.evolve(grant=replace(grant, expires_at=new_expiry), extension=decided)
    details: dict[str, Any] = {
        "duration": extension.duration,
        "requested_by": _who(extension),
        "old_expires_at": old,
        "new_expires_at": new_expiry,
        "approval": approval,
    }
    if extension.reason:
        details["reason"] = extension.reason
    if reason:
        details["decision_reason"] = reason
    return Transition(new, (event_for(new, "extend", actor, now, channel, details),))
