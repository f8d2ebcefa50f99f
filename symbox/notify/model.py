"""What a notification is, as the ledger queues it and the deliverer reads it back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

WEBHOOK = "webhook"
EMAIL = "email"
SLACK = "slack"
KINDS = (WEBHOOK, EMAIL, SLACK)


@dataclass(frozen=True)
class Outgoing:
    """A notification to queue: where it goes, and what it says (rendered when sent)."""

    run_id: str
    event_id: str
    # "webhook", "email" or "slack" (a request message to one Slack destination).
    kind: str
    # The sym_integration key that delivers it.
    integration: str
    # The email address for an email; the destination for Slack; "" for a webhook.
    recipient: str
    message: Mapping[str, Any]


@dataclass(frozen=True)
class Queued:
    """A queued notification as stored, with its delivery attempts so far."""

    id: int
    outgoing: Outgoing
    attempts: int


class SendError(Exception):
    """A delivery attempt failed; ``permanent`` when retrying cannot help (a refused recipient)."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    """Delivers one queued notification through one integration, or raises SendError."""

    async def send(self, queued: Queued) -> None:
        """Deliver ``queued``; return once the receiving side accepted it."""
        ...
