"""Errors the service raises for its callers to map onto their surface (HTTP, CLI, Slack)."""

from __future__ import annotations

from symbox.engine.inputs import InputError
from symbox.engine.runs import Conflict, Forbidden


class NotFound(Exception):
    """No such run, event, flow or token."""


class HiddenRun(NotFound):
    """A run the caller may not see: answered exactly as a missing one, traced as a refusal."""


class BadRequest(Exception):
    """The request is malformed or names something that cannot be used."""


class Unavailable(Exception):
    """symbox cannot take this change now; retry later. ``code`` says why, for API clients."""

    def __init__(self, message: str, code: str = "audit_outbox_full") -> None:
        super().__init__(message)
        self.code = code


class StartupError(Exception):
    """symbox cannot start: the message says why and what to do."""


__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InputError",
    "NotFound",
    "StartupError",
    "Unavailable",
]
