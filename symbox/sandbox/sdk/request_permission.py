"""`sym.sdk.request_permission`: who may view and approve/deny, as plain data for the host."""

from __future__ import annotations

import enum
from typing import Any

from symbox.sandbox.sdk.event import User
from symbox.sandbox.sdk.exceptions import TemplateError

# The key marking a reducer's reply as a RequestPermission; hooks.py on the host reads it.
PERMISSION_KEY = "__sym_permission__"


class PermissionLevel(enum.Enum):
    """Who a permission applies to, by symbox role."""

    ADMIN = "admin"
    MEMBER = "member"
    ALL_USERS = "all_users"


def _who(value: object, argument: str) -> str | list[str]:
    """A level's name, or a list of emails from emails and user objects."""
    if isinstance(value, PermissionLevel):
        return value.name
    # Only real lists: iterating anything else here would bypass the sandbox's iteration gate.
    if not isinstance(value, list | tuple):
        raise TemplateError(
            f"RequestPermission({argument}=...) takes a PermissionLevel or a list of users, "
            f"got {type(value).__name__}"
        )
    emails = []
    for item in value:
        if isinstance(item, User) and item.email:
            emails.append(item.email)
        elif isinstance(item, str) and item:
            emails.append(item)
        else:
            raise TemplateError(
                f"RequestPermission({argument}=...) list items must be emails or users, "
                f"got {type(item).__name__}"
            )
    return emails


# Sym's SDK spells it as a class; a function keeps the result plain data.
def RequestPermission(
    webapp_view: Any, approve_deny: Any, allow_self_approval: bool = False
) -> dict[str, Any]:
    """Who may see the request in the web app and who may approve or deny it."""
    if not isinstance(allow_self_approval, bool):
        raise TemplateError("RequestPermission(allow_self_approval=...) must be True or False")
    return {
        PERMISSION_KEY: {
            "webapp_view": _who(webapp_view, "webapp_view"),
            "approve_deny": _who(approve_deny, "approve_deny"),
            "allow_self_approval": allow_self_approval,
        }
    }
