"""What a request message says about a run: who decided, how many approved, what followed."""

from __future__ import annotations

from collections.abc import Mapping

from symbox.config.durations import iso
from symbox.engine.model import Actor, Run


def escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally (no mentions, links or channel pings)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(email: str, slack_ids: Mapping[str, str]) -> str:
    """A person as Slack shows them: a mention when their Slack id is known."""
    user = slack_ids.get(email)
    return f"<@{user}>" if user else email


def _who(actor: Actor, slack_ids: Mapping[str, str]) -> str:
    return mention(actor.id, slack_ids) if actor.kind == "user" else f"{actor.kind} {actor.id}"


def progress_line(run: Run, slack_ids: Mapping[str, str]) -> str:
    """A request's approvals so far: ``Approved by X (1 of 2)``."""
    who = ", ".join(_who(item.actor, slack_ids) for item in run.approvals)
    return f"Approved by {who} ({len(run.approvals)} of {run.approvals_required or 1})"


def run_status_line(run: Run, slack_ids: Mapping[str, str]) -> str | None:
    """What happened to the request, or None while it waits for a decision."""
    status = run.status.value
    if status == "requested":
        return None
    decision = run.decision
    parts: list[str] = []
    if decision is not None:
        # A quorum's approvers are all named; a denial names whoever denied.
        deciders = run.approvals if decision.approved and run.approvals else (decision,)
        who = ", ".join(_who(item.actor, slack_ids) for item in deciders)
        verb = "Approved" if decision.approved else "Denied"
        parts.append(f"{verb} by {who} at {iso(decision.at)}")
        if decision.reason:
            parts.append(f"({escape(decision.reason)})")
    if status == "approved" and run.grant is not None and run.grant.attempts:
        grant = run.grant
        retry = f", trying again at {iso(grant.next_attempt_at)}" if grant.next_attempt_at else ""
        tries = "1 attempt" if grant.attempts == 1 else f"{grant.attempts} attempts"
        parts.append(
            f"granting access failed ({tries}{retry}): {escape(grant.last_error or 'unknown')}"
        )
    elif status == "escalated" and run.grant is not None:
        until = run.grant.expires_at
        parts.append("access granted" + (f" until {iso(until)}" if until else ""))
    elif status == "deescalated":
        parts.append("access revoked")
    elif status == "expired":
        parts.append("expired without a decision")
    elif status == "withdrawn":
        parts.append("withdrawn by the requester")
    elif status == "errored":
        parts.append(f"failed: run {run.id}")
    return " · ".join(parts) if parts else status
