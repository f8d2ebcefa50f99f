"""The values the engine reasons about: runs, actors, decisions, grants and events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Where a run is in its life (Sym's statuses)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    EXPIRED = "expired"
    ERRORED = "errored"
    # The requester took the request back before anyone decided it.
    WITHDRAWN = "withdrawn"


FINAL_STATUSES = frozenset(
    {
        RunStatus.DENIED,
        RunStatus.DEESCALATED,
        RunStatus.EXPIRED,
        RunStatus.ERRORED,
        RunStatus.WITHDRAWN,
    }
)


class GrantState(StrEnum):
    """Where a run's access is at the target system."""

    # Approved; the strategy's escalate has not yet succeeded.
    ESCALATING = "escalating"
    ACTIVE = "active"
    # De-escalation is due or being retried.
    REVOKING = "revoking"
    # De-escalation failed past the retry bound; still retried at a slow interval.
    FAILING = "failing"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Actor:
    """Who did something: a person (by email), a bot token (by name), or symbox itself."""

    kind: str
    id: str

    @classmethod
    def user(cls, email: str) -> Actor:
        """A person, identified by a normalised email address."""
        return cls("user", email.strip().lower())

    @classmethod
    def bot(cls, name: str) -> Actor:
        """An automation identity holding a bot token."""
        return cls("bot", name)

    @classmethod
    def hook(cls, name: str) -> Actor:
        """A flow's own hook deciding (``on_request`` approving, say)."""
        return cls("hook", name)

    @classmethod
    def system(cls) -> Actor:
        """symbox acting on its own (timers, retries)."""
        return cls("system", "symbox")

    def as_dict(self) -> dict[str, str]:
        """The actor as JSON-ready data (API, audit records and storage share this shape)."""
        return {"kind": self.kind, "id": self.id}

    def __str__(self) -> str:
        return self.id if self.kind == "user" else f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Decision:
    """An approval or denial: who, when, and why."""

    approved: bool
    actor: Actor
    at: float
    reason: str | None


@dataclass(frozen=True)
class Grant:
    """The access a run holds (or held) at its strategy's target."""

    # Identifies what is granted: strategy, target and identity; overlapping runs share it.
    key: str
    state: GrantState
    expires_at: float | None = None
    attempts: int = 0
    next_attempt_at: float | None = None
    last_error: str | None = None
    # Who the target system granted to (its own identity for the requester), once known:
    # revoking uses it, so a mapping changed meanwhile cannot leave the grant in place.
    identity: str | None = None


class ExtensionStatus(StrEnum):
    """Where a request for more time on an escalated run is."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    # Still undecided when the grant ended: it no longer applies.
    LAPSED = "lapsed"


@dataclass(frozen=True)
class Extension:
    """The latest request for more time on a run's grant, and what became of it."""

    # Seconds added to the grant's expiry.
    duration: int
    requested_at: float
    requested_by: Actor
    reason: str | None
    status: ExtensionStatus
    decided_by: Actor | None = None
    decided_at: float | None = None
    decision_reason: str | None = None


class ReviewState(StrEnum):
    """Where the after-the-fact review of a break-glass run is."""

    NEEDS_REVIEW = "needs_review"
    REVIEWED = "reviewed"


@dataclass(frozen=True)
class Review:
    """The review a break-glass run waits for: who looked at it afterwards, and why."""

    state: ReviewState
    by: Actor | None = None
    at: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Run:
    """One access request and everything that happened to it."""

    id: str
    flow: str
    requester: str
    # Who submitted the request: the requester, or a bot acting for them.
    submitted_by: Actor
    channel: str
    # The validated prompt fields; ``duration`` in seconds, ``target`` a target name.
    fields: Mapping[str, Any]
    strategy: str | None
    target: str | None
    status: RunStatus
    created_at: float
    request_expires_at: float
    decision: Decision | None = None
    # Every approval so far: a flow needing more than one keeps the run requested until
    # enough distinct approvers agree (the last one is ``decision`` too).
    approvals: tuple[Decision, ...] = ()
    # How many approvals the run needs, recorded with its first approval (None: the flow's).
    approvals_required: int | None = None
    grant: Grant | None = None
    escalated_at: float | None = None
    ended_at: float | None = None
    ended_by: Actor | None = None
    errors: tuple[str, ...] = ()
    # Where the request is posted, from the flow's notification reducers: each item is
    # ``{"destinations": [...], "timeout": seconds or None}``, later ones as backups.
    notifications: tuple[Mapping[str, Any], ...] = ()
    # Which of ``notifications`` the request is posted to now, and since when (None: since
    # it was created); a timed-out notification is forwarded to the next one.
    notified: int = 0
    notified_at: float | None = None
    # The ``context`` object sent with the request (API), which hooks read with
    # ``event.get_context("request")``.
    context: Mapping[str, Any] = field(default_factory=dict)
    # What the strategy answered at each step (``escalate``, ``deescalate``), for hooks'
    # ``get_step_output``; it may hold what is meant only for the requester, so neither the
    # API nor the audit log shows it.
    step_outputs: Mapping[str, Any] = field(default_factory=dict)
    # The latest request for more time on the grant, if any.
    extension: Extension | None = None
    # Set on break-glass runs only: granted by the requester, reviewed by an approver after.
    review: Review | None = None
    version: int = 1

    def evolve(self, **changes: Any) -> Run:
        """Return a copy with ``changes`` applied and the version bumped."""
        return replace(self, version=self.version + 1, **changes)

    @property
    def duration(self) -> int | None:
        """Seconds of access asked for, if the flow grants access."""
        value = self.fields.get("duration")
        return value if isinstance(value, int) else None


@dataclass(frozen=True)
class RunEvent:
    """Something that happened to a run: the unit of the audit log."""

    id: str
    run_id: str
    # Sym's event names: request, approve, deny, escalate, deescalate, request_expire,
    # plus symbox's escalate_failed and deescalate_failed attempt records.
    name: str
    actor: Actor
    at: float
    channel: str
    status: RunStatus
    details: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
