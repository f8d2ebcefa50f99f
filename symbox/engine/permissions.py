"""Who may approve, deny and revoke a run, before any hook has a say."""

from __future__ import annotations

from collections.abc import Mapping

from symbox.engine.model import Actor, Run

# A flow's vars name its approvers; entries are emails, or ``bot:NAME`` for a bot token.
APPROVERS_VAR = "approvers"
SELF_APPROVAL_VAR = "allow_self_approval"


def approvers(flow_vars: Mapping[str, str]) -> frozenset[str]:
    """Return the normalised approver entries listed in ``vars["approvers"]``."""
    raw = flow_vars.get(APPROVERS_VAR, "")
    return frozenset(item.strip().lower() for item in raw.split(",") if item.strip())


def _entry(actor: Actor) -> str:
    return actor.id.lower() if actor.kind == "user" else f"{actor.kind}:{actor.id}".lower()


def may_decide(flow_vars: Mapping[str, str], run: Run, actor: Actor) -> str | None:
    """Return why ``actor`` may not approve or deny ``run``, or None if they may."""
    if actor.kind == "hook":
        # The flow's own code decided (only the service makes hook actors, never a token).
        return None
    if _entry(actor) not in approvers(flow_vars):
        return f"{actor} is not an approver of flow {run.flow}"
    self_allowed = flow_vars.get(SELF_APPROVAL_VAR, "false").strip().lower() == "true"
    if self_allowed:
        return None
    if actor.kind == "user" and actor.id == run.requester:
        return "requesters may not decide their own request in this flow"
    if actor == run.submitted_by:
        # Otherwise one bot token could both ask for anyone's access and grant it.
        return "whoever submitted a request may not decide it in this flow"
    return None


def may_revoke(flow_vars: Mapping[str, str], run: Run, actor: Actor) -> str | None:
    """Return why ``actor`` may not end ``run``'s access early, or None if they may.

    The requester, any approver and any bot may revoke: revoking only takes access away.
    """
    if actor.kind in ("bot", "system"):
        return None
    if actor.id == run.requester or _entry(actor) in approvers(flow_vars):
        return None
    return f"{actor} is neither the requester nor an approver of flow {run.flow}"


def may_view(flow_vars: Mapping[str, str], run: Run, actor: Actor) -> bool:
    """Tell whether ``actor`` may read ``run``: bots, its requester, and its approvers."""
    if actor.kind != "user":
        return True
    return actor.id == run.requester or _entry(actor) in approvers(flow_vars)


def approves(flow_vars: Mapping[str, str], actor: Actor) -> bool:
    """Tell whether ``actor`` is listed as an approver in ``flow_vars``."""
    return _entry(actor) in approvers(flow_vars)
