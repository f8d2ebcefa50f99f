"""How runs and events look in API responses."""

from __future__ import annotations

from typing import Any

from symbox.config import format_duration
from symbox.config.durations import iso
from symbox.config.model import Flow, Target
from symbox.engine.model import Actor, Decision, Extension, GrantState, Review, Run


def _when(at: float | None) -> str | None:
    return None if at is None else iso(at)


def _actor(actor: Actor | None) -> dict[str, str] | None:
    return None if actor is None else actor.as_dict()


def run_view(run: Run, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A run as the API shows it."""
    decision = run.decision
    grant = run.grant
    view: dict[str, Any] = {
        "run_id": run.id,
        "status": run.status.value,
        "flow": run.flow,
        "requester": run.requester,
        "submitted_by": _actor(run.submitted_by),
        "channel": run.channel,
        "target": run.target,
        "fields": dict(run.fields),
        "created_at": _when(run.created_at),
        "request_expires_at": _when(run.request_expires_at),
        "decisions": []
        if decision is None
        else [
            {
                "decision": "approve" if decision.approved else "deny",
                "actor": _actor(decision.actor),
                "at": _when(decision.at),
                "reason": decision.reason,
            }
        ],
        "approvals": [
            {"actor": _actor(item.actor), "at": _when(item.at), "reason": item.reason}
            for item in _approvals(run)
        ],
        "approvals_required": run.approvals_required or 1,
        "escalated_at": _when(run.escalated_at),
        "expires_at": _when(grant.expires_at if grant else None),
        "ended_at": _when(run.ended_at),
        "ended_by": _actor(run.ended_by),
        "errors": list(run.errors),
        "notifications": [dict(item) for item in run.notifications],
        "grant": None
        if grant is None
        else {
            "state": grant.state.value,
            "failing_to_revoke": grant.state is GrantState.FAILING,
            "attempts": grant.attempts,
            "next_attempt_at": _when(grant.next_attempt_at),
            "last_error": grant.last_error,
            "identity": grant.identity,
        },
        "extension": _extension(run.extension),
        "break_glass": run.review is not None,
        "review": _review(run.review),
    }
    if run.errors:
        view["error"] = run.errors[-1]
    if events is not None:
        view["events"] = [event_view(event) for event in events]
    return view


def _approvals(run: Run) -> tuple[Decision, ...]:
    # Runs approved before quorums existed hold their one approval in ``decision`` only.
    if not run.approvals and run.decision is not None and run.decision.approved:
        return (run.decision,)
    return run.approvals


def _extension(extension: Extension | None) -> dict[str, Any] | None:
    if extension is None:
        return None
    return {
        "duration": extension.duration,
        "requested_at": _when(extension.requested_at),
        "requested_by": _actor(extension.requested_by),
        "reason": extension.reason,
        "status": extension.status.value,
        "decided_by": _actor(extension.decided_by),
        "decided_at": _when(extension.decided_at),
        "decision_reason": extension.decision_reason,
    }


def _review(review: Review | None) -> dict[str, Any] | None:
    if review is None:
        return None
    return {
        "state": review.state.value,
        "by": _actor(review.by),
        "at": _when(review.at),
        "reason": review.reason,
    }


def event_view(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the API shows it (timestamps in ISO-8601)."""
    view = dict(event)
    view["timestamp"] = iso(float(event["timestamp"]))
    if event.get("errors"):
        view["error"] = event["errors"][-1]
    return view


def flow_view(flow: Flow, targets: list[Target]) -> dict[str, Any]:
    """A flow as a requester needs it: its fields (with allowed values) and targets."""

    def shown(kind: str, value: Any) -> Any:
        # Durations are kept as seconds; the API takes and shows them as 1h, 30m...
        return format_duration(value) if kind == "duration" and isinstance(value, int) else value

    return {
        "name": flow.name,
        "label": flow.label,
        "targets": [{"name": target.name, "label": target.label} for target in targets],
        "fields": [
            {
                "name": field.name,
                "type": field.type,
                "label": field.label,
                "required": field.required,
                "visible": field.visible,
                "default": shown(field.type, field.default),
                "allowed_values": None
                if field.allowed_values is None
                else [shown(field.type, value) for value in field.allowed_values],
            }
            for field in flow.params.prompt_fields
        ],
    }
