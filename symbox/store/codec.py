"""Runs and events to and from the JSON kept in the database."""

from __future__ import annotations

import json
from typing import Any

from symbox.engine.model import (
    Actor,
    Decision,
    Extension,
    ExtensionStatus,
    Grant,
    GrantState,
    Review,
    ReviewState,
    Run,
    RunEvent,
    RunStatus,
)


def _actor(data: dict[str, Any] | None) -> Actor | None:
    return None if data is None else Actor(data["kind"], data["id"])


def run_to_json(run: Run) -> str:
    """Serialise a run for the ``runs.body`` column."""
    decision = run.decision
    grant = run.grant
    body = {
        "id": run.id,
        "flow": run.flow,
        "requester": run.requester,
        "submitted_by": run.submitted_by.as_dict(),
        "channel": run.channel,
        "fields": dict(run.fields),
        "strategy": run.strategy,
        "target": run.target,
        "status": run.status.value,
        "created_at": run.created_at,
        "request_expires_at": run.request_expires_at,
        "decision": None if decision is None else _decision_to_json(decision),
        "approvals": [_decision_to_json(item) for item in run.approvals],
        "approvals_required": run.approvals_required,
        "grant": None
        if grant is None
        else {
            "key": grant.key,
            "state": grant.state.value,
            "expires_at": grant.expires_at,
            "attempts": grant.attempts,
            "next_attempt_at": grant.next_attempt_at,
            "last_error": grant.last_error,
            "identity": grant.identity,
        },
        "escalated_at": run.escalated_at,
        "ended_at": run.ended_at,
        "ended_by": None if run.ended_by is None else run.ended_by.as_dict(),
        "errors": list(run.errors),
        "notifications": [dict(item) for item in run.notifications],
        "notified": run.notified,
        "notified_at": run.notified_at,
        "context": dict(run.context),
        "step_outputs": dict(run.step_outputs),
        "extension": None if run.extension is None else _extension_to_json(run.extension),
        "review": None if run.review is None else _review_to_json(run.review),
        "version": run.version,
    }
    return json.dumps(body, separators=(",", ":"))


def run_from_json(text: str) -> Run:
    """Rebuild a run from its ``runs.body`` column."""
    data = json.loads(text)
    decision = data["decision"]
    grant = data["grant"]
    submitted_by = _actor(data["submitted_by"])
    assert submitted_by is not None
    return Run(
        id=data["id"],
        flow=data["flow"],
        requester=data["requester"],
        submitted_by=submitted_by,
        channel=data["channel"],
        fields=data["fields"],
        strategy=data["strategy"],
        target=data["target"],
        status=RunStatus(data["status"]),
        created_at=data["created_at"],
        request_expires_at=data["request_expires_at"],
        decision=None if decision is None else _decision_from_json(decision),
        # Runs stored before quorums existed hold their one approval in ``decision`` only.
        approvals=tuple(_decision_from_json(item) for item in data.get("approvals") or ()),
        approvals_required=data.get("approvals_required"),
        grant=None
        if grant is None
        else Grant(
            key=grant["key"],
            state=GrantState(grant["state"]),
            expires_at=grant["expires_at"],
            attempts=grant["attempts"],
            next_attempt_at=grant["next_attempt_at"],
            last_error=grant["last_error"],
            # Grants stored before identities were recorded have none.
            identity=grant.get("identity"),
        ),
        escalated_at=data["escalated_at"],
        ended_at=data["ended_at"],
        ended_by=_actor(data["ended_by"]),
        errors=tuple(data["errors"]),
        # Runs stored before notifications were recorded have none.
        notifications=tuple(data.get("notifications", ())),
        notified=data.get("notified", 0),
        notified_at=data.get("notified_at"),
        # Runs stored before contexts were kept have none.
        context=data.get("context") or {},
        # Runs stored before step outputs were kept have none.
        step_outputs=data.get("step_outputs") or {},
        # Runs stored before extensions existed have none.
        extension=_extension_from_json(data.get("extension")),
        # Runs stored before break-glass existed have no review.
        review=_review_from_json(data.get("review")),
        version=data["version"],
    )


def _decision_to_json(decision: Decision) -> dict[str, Any]:
    return {
        "approved": decision.approved,
        "actor": decision.actor.as_dict(),
        "at": decision.at,
        "reason": decision.reason,
    }


def _decision_from_json(data: dict[str, Any]) -> Decision:
    return Decision(
        approved=data["approved"],
        actor=Actor(data["actor"]["kind"], data["actor"]["id"]),
        at=data["at"],
        reason=data["reason"],
    )


def _extension_to_json(extension: Extension) -> dict[str, Any]:
    return {
        "duration": extension.duration,
        "requested_at": extension.requested_at,
        "requested_by": extension.requested_by.as_dict(),
        "reason": extension.reason,
        "status": extension.status.value,
        "decided_by": None if extension.decided_by is None else extension.decided_by.as_dict(),
        "decided_at": extension.decided_at,
        "decision_reason": extension.decision_reason,
    }


def _extension_from_json(data: dict[str, Any] | None) -> Extension | None:
    if data is None:
        return None
    requested_by = _actor(data["requested_by"])
    assert requested_by is not None
    return Extension(
        duration=data["duration"],
        requested_at=data["requested_at"],
        requested_by=requested_by,
        reason=data["reason"],
        status=ExtensionStatus(data["status"]),
        decided_by=_actor(data["decided_by"]),
        decided_at=data["decided_at"],
        decision_reason=data["decision_reason"],
    )


def event_to_json(event: RunEvent) -> str:
    """Serialise an event for the ``events.body`` column."""
    return json.dumps(event_dict(event), separators=(",", ":"))


def event_dict(event: RunEvent) -> dict[str, Any]:
    """An event as a JSON-ready mapping (the API's shape)."""
    return {
        "event_id": event.id,
        "run_id": event.run_id,
        "name": event.name,
        "actor": event.actor.as_dict(),
        "timestamp": event.at,
        "channel": event.channel,
        "status": event.status.value,
        "details": dict(event.details),
        "errors": list(event.errors),
    }


def _review_to_json(review: Review) -> dict[str, Any]:
    return {
        "state": review.state.value,
        "by": None if review.by is None else review.by.as_dict(),
        "at": review.at,
        "reason": review.reason,
    }


def _review_from_json(data: dict[str, Any] | None) -> Review | None:
    if data is None:
        return None
    return Review(
        state=ReviewState(data["state"]),
        by=_actor(data["by"]),
        at=data["at"],
        reason=data["reason"],
    )
