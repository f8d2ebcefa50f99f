"""Who may approve, deny and revoke a run, before any hook has a say."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from symbox.config.people import (
    APPROVERS_VAR,
    SELF_APPROVAL_VAR,
    InvalidApprover,
    approver_entry,
    same_person,
)
from symbox.engine.model import Actor, Run


def approvers(flow_vars: Mapping[str, str]) -> frozenset[str]:
    """Return the normalised approver entries listed in ``vars["approvers"]``."""
    raw = flow_vars.get(APPROVERS_VAR, "")
    return _entries(raw.split(","))


def _entries(items: Iterable[str]) -> frozenset[str]:
    entries = set()
    for item in items:
        try:
            entries.add(approver_entry(item))
        except InvalidApprover:
            # Config checks refuse such entries; a hook's list may still hold one, and an
            # address nobody can sign in with approves nothing.
            continue
    return frozenset(entries)


def actor_entry(actor: Actor) -> str:
    """The approver entry ``actor`` matches: a user's email, or ``bot:NAME``."""
    return actor.id.lower() if actor.kind == "user" else f"{actor.kind}:{actor.id}".lower()


@dataclass(frozen=True)
class DecisionRule:
    """Who may approve or deny a flow's requests: entries, or None for any signed-in user."""

    approvers: frozenset[str] | None
    allow_self_approval: bool
    # How many distinct approvers a request needs (``get_permissions``); None: the flow's.
    approvals_required: int | None = None

    @classmethod
    def from_vars(cls, flow_vars: Mapping[str, str]) -> DecisionRule:
        """The rule without hooks: ``vars["approvers"]`` and ``vars["allow_self_approval"]``."""
        self_allowed = flow_vars.get(SELF_APPROVAL_VAR, "false").strip().lower() == "true"
        return cls(approvers(flow_vars), self_allowed)

    @classmethod
    def from_permission(
        cls,
        approve_deny: str | tuple[str, ...],
        allow_self: bool,
        flow_vars: Mapping[str, str],
        approvals_required: int | None = None,
    ) -> DecisionRule:
        """The rule a ``get_permissions`` hook returned: emails, or one of Sym's levels.

        symbox has no Sym roles: ``ALL_USERS`` and ``MEMBER`` admit any signed-in user,
        and ``ADMIN`` means the flow's ``vars["approvers"]``.
        """
        if isinstance(approve_deny, str):
            level = approve_deny.upper()
            if level in ("ALL_USERS", "MEMBER"):
                return cls(None, allow_self, approvals_required)
            if level == "ADMIN":
                return cls(approvers(flow_vars), allow_self, approvals_required)
            raise ValueError(f"get_permissions: unknown permission level {approve_deny!r}")
        return cls(_entries(approve_deny), allow_self, approvals_required)


def destinations_rule(
    notifications: Iterable[Mapping[str, Any]], flow_vars: Mapping[str, str]
) -> DecisionRule:
    """Who may decide a request posted where Sym's older ``get_approvers`` said.

    As in Sym, the destinations it returns are the approvers: people by email (a user or a
    group DM), anyone signed in for a channel (symbox cannot see a channel's members from
    the API); ``allow_self=True`` on any of them allows self-approval. The flow's own
    ``vars`` still count.
    """
    people: set[str] = set(approvers(flow_vars))
    anyone = False
    self_allowed = DecisionRule.from_vars(flow_vars).allow_self_approval
    pending: list[Any] = [item.get("destinations") for item in notifications]
    while pending:
        item = pending.pop()
        if isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, str):
            if item.startswith("#") or "@" not in item:
                # A channel by name or id (a bare Slack id cannot be told from a user's).
                anyone = anyone or item.startswith("#") or item[:1] in ("C", "G")
            else:
                people |= _entries([item])
        elif isinstance(item, Mapping):
            self_allowed = self_allowed or item.get("allow_self") is True
            kind = item.get("type")
            if kind == "slack_channel":
                anyone = True
            pending.extend(item.get(key) for key in ("user", "users", "destinations"))
    return DecisionRule(None if anyone else frozenset(people), self_allowed)


def may_decide(rule: DecisionRule, run: Run, actor: Actor) -> str | None:
    """Return why ``actor`` may not approve or deny ``run`` under ``rule``, or None."""
    if actor.kind == "hook":
        # The flow's own code decided (only the service makes hook actors, never a token).
        return None
    if rule.approvers is None:
        if actor.kind != "user":
            return f"{actor} is not an approver of flow {run.flow}"
    elif actor_entry(actor) not in rule.approvers:
        return f"{actor} is not an approver of flow {run.flow}"
    if rule.allow_self_approval:
        return None
    if actor.kind == "user" and same_person(actor.id, run.requester):
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
    if same_person(actor.id, run.requester) or actor_entry(actor) in approvers(flow_vars):
        return None
    return f"{actor} is neither the requester nor an approver of flow {run.flow}"


def may_view(flow_vars: Mapping[str, str], run: Run, actor: Actor) -> bool:
    """Tell whether ``actor`` may read ``run``: bots, its requester, and its approvers."""
    if actor.kind != "user":
        return True
    return same_person(actor.id, run.requester) or actor_entry(actor) in approvers(flow_vars)


def approves(flow_vars: Mapping[str, str], actor: Actor) -> bool:
    """Tell whether ``actor`` is listed as an approver in ``flow_vars``."""
    return actor_entry(actor) in approvers(flow_vars)
