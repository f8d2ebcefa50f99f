"""`sym.sdk.templates`: `ApprovalTemplate` results, as plain data the host recognises."""

from __future__ import annotations

from typing import Any, NoReturn

from symbox.sandbox.sdk.exceptions import TemplateError
from symbox.sandbox.sdk.integrations import IntegrationChannel

# The key marking a hook's reply as a template; hooks.py on the host reads it.
TEMPLATE_KEY = "__sym_template__"
TEMPLATE_ACTIONS = ("approve", "deny", "ignore")
# The integration name the host answers step outputs under.
TEMPLATES_INTEGRATION = "templates"


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


STEP_NAMES = frozenset(
    value for name, value in vars(ApprovalTemplateStep).items() if not name.startswith("_")
)


class GetStepOutput:
    """`get_step_output(step=None)`: what a step's strategy answered, read from the host.

    Without ``step``, the output of the step the hook runs for (``after_escalate``: the
    escalation); a custom strategy's ``deescalate`` reads its escalation's with
    ``get_step_output(ApprovalTemplateStep.ESCALATE)``.
    """

    __slots__ = ("_channel",)

    _channel: IntegrationChannel

    def __init__(self, channel: IntegrationChannel) -> None:
        object.__setattr__(self, "_channel", channel)

    def __call__(self, step: object = None) -> Any:
        # Exact types only: a hook's str subclass would be pickled by class reference.
        if step is not None and (type(step) is not str or step not in STEP_NAMES):
            raise TemplateError(f"get_step_output takes an ApprovalTemplateStep, not {step!r}")
        return self._channel.call(TEMPLATES_INTEGRATION, "get_step_output", {"step": step})

    def _read_only(self, *args: object) -> NoReturn:
        raise TypeError("get_step_output is read-only in hooks")

    __setattr__ = _read_only
    __delattr__ = _read_only
    __guarded_setattr__ = _read_only
    __guarded_delattr__ = _read_only

    def __repr__(self) -> str:
        return "<function sym.sdk.templates.get_step_output>"
