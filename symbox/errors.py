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
    """symbox cannot take this change now (the audit outbox is full); retry later."""


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
