"""The shape of an audit record: Sym's event entry plus fields Datadog reads as-is."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from symbox.config.durations import iso
from symbox.config.model import Secret, Target
from symbox.engine.model import Actor, Run, RunEvent

SCHEMA_VERSION = 1
REDACTED = "[redacted]"
# Types that never hold a Secret.
_PLAIN = frozenset({str, int, float, bool})


def redact(value: Any) -> Any:
    """Return ``value`` with every Secret replaced, at any depth."""
    if value is None or type(value) in _PLAIN:
        # Most values are plain: spare them the abstract-class checks below.
        return value
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(key): redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _actors(run: Run) -> dict[str, dict[str, str]]:
    actors = {"request": {"kind": "user", "id": run.requester}}
    if run.submitted_by.kind != "user" or run.submitted_by.id != run.requester:
        actors["submit"] = run.submitted_by.as_dict()
    if run.decision is not None:
        actors["approve" if run.decision.approved else "deny"] = run.decision.actor.as_dict()
    if run.ended_by is not None:
        actors["end"] = run.ended_by.as_dict()
    return actors


def run_entry(event: RunEvent, run: Run, target: Target | None) -> dict[str, Any]:
    """Build the audit record of one run event."""
    fields: dict[str, Any] = {key: value for key, value in run.fields.items() if key != "target"}
    if target is not None:
        fields["target"] = {
            "name": target.name,
            "label": target.label,
            "type": target.type,
            # Redacted with the rest of the fields below, once.
            "settings": target.settings,
        }
    if run.grant is not None:
        fields["grant"] = {
            "state": run.grant.state.value,
            "identity": run.grant.identity,
            "expires_at": None if run.grant.expires_at is None else iso(run.grant.expires_at),
        }
    at = iso(event.at)
    return {
        "id": event.id,
        "type": "event",
        "timestamp": at,
        "service": "symbox",
        "status": "error" if event.errors else "info",
        "meta": {"schema_version": SCHEMA_VERSION},
        "event": {"type": event.name, "timestamp": at, "channel": event.channel},
        "run": {"id": run.id, "flow": run.flow, "actors": _actors(run)},
        "actor": event.actor.as_dict(),
        "fields": redact(fields),
        "details": redact(dict(event.details)),
        "state": {"status": run.status.value, "errors": list(event.errors)},
    }


def system_entry(
    kind: str,
    name: str,
    *,
    actor: Actor,
    at: float,
    channel: str,
    fields: Mapping[str, Any],
    errors: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Build the audit record of something that is not a run event (tokens, config)."""
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "timestamp": iso(at),
        "service": "symbox",
        "status": "error" if errors else "info",
        "meta": {"schema_version": SCHEMA_VERSION},
        "event": {"type": name, "timestamp": iso(at), "channel": channel},
        "actor": actor.as_dict(),
        "fields": redact(dict(fields)),
        "state": {"status": "failed" if errors else "ok", "errors": list(errors)},
    }
