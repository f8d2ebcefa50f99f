"""`sym.sdk.templates`: `ApprovalTemplate` results, as plain data the host recognises."""

from __future__ import annotations

from typing import Any

from symbox.sandbox.sdk.exceptions import TemplateError

# The key marking a hook's reply as a template; hooks.py on the host reads it.
TEMPLATE_KEY = "__sym_template__"
TEMPLATE_ACTIONS = ("approve", "deny", "ignore")


def _template(action: str, message: object) -> dict[str, Any]:
    if message is not None and not isinstance(message, str):
        raise TemplateError(f"ApprovalTemplate.{action} takes a str, got {type(message).__name__}")
    return {TEMPLATE_KEY: action, "message": message}


class ApprovalTemplate:
    """Redirect a step from an `on_*` hook: approve, deny or ignore it."""

    @staticmethod
    def approve(reason: str | None = None) -> dict[str, Any]:
        """Approve the request now."""
        return _template("approve", reason)

    @staticmethod
    def deny(reason: str | None = None) -> dict[str, Any]:
        """Deny the request now."""
        return _template("deny", reason)

    @staticmethod
    def ignore(message: str | None = None) -> dict[str, Any]:
        """Ignore this event (for example an approval by someone not allowed to approve)."""
        return _template("ignore", message)


class ApprovalTemplateStep:
    """The steps of Sym's approval template, by name (plain str values, as Sym's str enum)."""

    PROMPT = "prompt"
    REQUEST = "request"
    REQUEST_FORWARD = "request_forward"
    REQUEST_EXPIRE = "request_expire"
    APPROVE = "approve"
    DENY = "deny"
    ESCALATE = "escalate"
    DEESCALATE = "deescalate"
