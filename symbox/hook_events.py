"""The event a flow's hooks receive, as plain data in the shape of Sym's event object."""

from __future__ import annotations

from typing import Any

from symbox.audit.entry import iso, redact
from symbox.clock import Clock
from symbox.config.model import Config, Flow, Target
from symbox.engine.model import Actor, Run


def _user(email: str) -> dict[str, str]:
    # symbox knows people by email only; Sym's username is the email's local part.
    return {"email": email, "username": email.split("@", 1)[0], "role": "member"}


def hook_event(
    run: Run,
    flow: Flow,
    config: Config,
    target: Target | None,
    step: str,
    actor: Actor,
    clock: Clock,
) -> dict[str, Any]:
    """Build the event for ``step`` of ``run``, as seen by ``actor``; secrets are redacted."""
    fields: dict[str, Any] = {key: value for key, value in run.fields.items() if key != "target"}
    if target is not None:
        fields["target"] = {
            "name": target.name,
            "label": target.label,
            "type": target.type,
            "settings": redact(target.settings),
        }
    environment = config.environments.get(flow.environment)
    actors: dict[str, Any] = {"request": _user(run.requester)}
    if run.decision is not None and run.decision.actor.kind == "user":
        actors["approve" if run.decision.approved else "deny"] = _user(run.decision.actor.id)
    acting = actor.id if actor.kind == "user" else run.requester
    return {
        "name": step,
        "user": _user(acting),
        "payload": {"fields": fields, "timestamp": iso(clock.now())},
        "flow": {
            "name": flow.name,
            "vars": dict(flow.vars),
            "environment": {
                "name": environment.name if environment else flow.environment,
                "integrations": dict(environment.integrations) if environment else {},
            },
        },
        "run": {"id": run.id, "actors": actors},
        "context": {},
    }
