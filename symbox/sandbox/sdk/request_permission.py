"""`sym.sdk.request_permission`: who may view and approve/deny, as plain data for the host."""

from __future__ import annotations

import enum
from typing import Any

from symbox.sandbox.sdk.event import User
from symbox.sandbox.sdk.exceptions import TemplateError

# The key marking a reducer's reply as a RequestPermission; hooks.py on the host reads it.
PERMISSION_KEY = "__sym_permission__"
# The most approvers one request may need; config.quorum holds the same bound for flows
# (a test keeps them equal: the worker does not import the config reader).
MAX_APPROVALS = 20


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
    webapp_view: Any,
    approve_deny: Any,
    allow_self_approval: bool = False,
    approvals_required: int | None = None,
) -> dict[str, Any]:
    """Who may see the request in the web app and who may approve or deny it.

    ``approvals_required`` (symbox's own) is how many distinct approvers must approve;
    None keeps the flow's ``approvals_required``.
    """
    if not isinstance(allow_self_approval, bool):
        raise TemplateError("RequestPermission(allow_self_approval=...) must be True or False")
    if approvals_required is not None and (
        type(approvals_required) is not int or not 1 <= approvals_required <= MAX_APPROVALS
    ):
        raise TemplateError(
            f"RequestPermission(approvals_required=...) must be a whole number from 1 to "
            f"{MAX_APPROVALS} or None"
        )
    spec: dict[str, Any] = {
        "webapp_view": _who(webapp_view, "webapp_view"),
        "approve_deny": _who(approve_deny, "approve_deny"),
        "allow_self_approval": allow_self_approval,
    }
    if approvals_required is not None:
        spec["approvals_required"] = approvals_required
    return {PERMISSION_KEY: spec}
