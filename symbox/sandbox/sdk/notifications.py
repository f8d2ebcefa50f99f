"""`sym.sdk.notifications`: where a request is posted, as plain data for the host."""

from __future__ import annotations

import datetime
from typing import Any

from symbox.sandbox.sdk.event import FrozenMap, User
from symbox.sandbox.sdk.exceptions import TemplateError

# The key marking a reducer's reply item as a Notification; hooks.py on the host reads it.
NOTIFICATION_KEY = "__sym_notification__"


def destination(value: object) -> str | dict[str, Any]:
    """A destination as plain data: a channel/user string, a user's email, or a plain dict."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, User) and value.email:
        return value.email
    if isinstance(value, FrozenMap):
        return dict(value.items())
    if type(value) is dict and all(isinstance(key, str) for key in value):
        return dict(value)
    raise TemplateError(
        f"a notification destination must be a channel, email or user, got {type(value).__name__}"
    )


# Sym's SDK spells it as a class; a function keeps the result plain data.
def Notification(
    destinations: Any, timeout: int | float | datetime.timedelta | None = None
) -> dict[str, Any]:
    """Post the request to `destinations`; a later Notification is a backup after `timeout` s."""
    if isinstance(destinations, str) or not isinstance(destinations, list | tuple):
        raise TemplateError("Notification(destinations=...) takes a list of destinations")
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
        raise TemplateError("Notification(timeout=...) takes seconds or a timedelta")
    if timeout is not None and timeout < 0:
        raise TemplateError("Notification(timeout=...) must not be negative")
    return {
        NOTIFICATION_KEY: {
            "destinations": [destination(item) for item in destinations],
            "timeout": timeout,
        }
    }
