"""Slack's Block Kit for extensions: the Extend button and modal, the approvers' buttons.

Pure functions from runs to Slack payloads, and from a submitted modal back to what it
asks; nothing here talks to Slack.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from symbox.config.durations import format_duration
from symbox.config.model import Flow
from symbox.engine.model import ExtensionStatus, Run, RunStatus

EXTEND = "symbox_extend"
EXTEND_APPROVE = "symbox_extend_approve"
EXTEND_DENY = "symbox_extend_deny"
EXTEND_FORM = "symbox_extend_form"
DURATION = "duration"
REASON = "reason"
# Durations offered when the flow's duration field lists none.
_PLACEHOLDER = "30m, 1h, 2d"


def _text(value: str, kind: str = "plain_text") -> dict[str, Any]:
    return {"type": kind, "text": value[:3000]}


def button(label: str, action_id: str, run_id: str, style: str | None = None) -> dict[str, Any]:
    """A button acting on a run (its id is the value)."""
    element: dict[str, Any] = {
        "type": "button",
        "text": _text(label),
        "action_id": action_id,
        "value": run_id,
    }
    if style is not None:
        element["style"] = style
    return element


def extendable(run: Run) -> bool:
    """Tell whether ``run`` has a grant with an expiry its requester could extend now."""
    grant = run.grant
    return (
        run.status is RunStatus.ESCALATED
        and grant is not None
        and grant.expires_at is not None
        and not (run.extension is not None and run.extension.status is ExtensionStatus.PENDING)
    )


def extension_blocks(run: Run, escape: Callable[[str], str]) -> list[dict[str, Any]]:
    """What a request message shows about the run's extension, with approvers' buttons."""
    extension = run.extension
    if extension is None or run.status is not RunStatus.ESCALATED:
        return []
    asked = f"+{format_duration(extension.duration)} asked by {extension.requested_by.id}"
    if extension.reason:
        asked += f" ({escape(extension.reason)})"
    if extension.status is not ExtensionStatus.PENDING:
        verb = extension.status.value
        by = f" by {extension.decided_by.id}" if extension.decided_by is not None else ""
        return [
            {"type": "context", "elements": [_text(f"Extension {asked}: {verb}{by}", "mrkdwn")]}
        ]
    return [
        {"type": "section", "text": _text(f"*Extension requested:* {asked}", "mrkdwn")},
        {
            "type": "actions",
            "block_id": "extension",
            "elements": [
                button("Approve extension", EXTEND_APPROVE, run.id, "primary"),
                button("Deny extension", EXTEND_DENY, run.id, "danger"),
            ],
        },
    ]


def extend_button(run: Run) -> dict[str, Any] | None:
    """The Extend button of an escalated run whose grant has an expiry to move."""
    return button("Extend", EXTEND, run.id) if extendable(run) else None


def extend_form(run: Run, flow: Flow) -> dict[str, Any]:
    """The modal the Extend button opens: how much longer (the flow's durations), and why."""
    field = flow.field(DURATION)
    allowed = field.allowed_values if field is not None and field.type == "duration" else None
    element: dict[str, Any]
    if allowed:
        element = {
            "type": "static_select",
            "action_id": DURATION,
            "options": [
                {"text": _text(format_duration(value)), "value": format_duration(value)}
                for value in allowed
                if isinstance(value, int)
            ][:100],
        }
    else:
        element = {
            "type": "plain_text_input",
            "action_id": DURATION,
            "placeholder": _text(_PLACEHOLDER),
        }
    return {
        "type": "modal",
        "callback_id": EXTEND_FORM,
        "private_metadata": json.dumps({"run_id": run.id}),
        "title": _text("Extend access"),
        "submit": _text("Extend"),
        "close": _text("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": _text(f"More time on your {flow.label or flow.name} access"),
            },
            {"type": "input", "block_id": DURATION, "label": _text("For"), "element": element},
            {
                "type": "input",
                "block_id": REASON,
                "optional": True,
                "label": _text("Reason"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
    }


def extend_submitted(view: Mapping[str, Any]) -> tuple[str, str | None, str | None] | None:
    """The run id, the duration as typed or chosen, and the reason of a submitted modal."""
    try:
        metadata = json.loads(str(view.get("private_metadata")))
    except ValueError:
        return None
    run_id = metadata.get("run_id") if isinstance(metadata, dict) else None
    if not isinstance(run_id, str):
        return None
    state = view.get("state", {}).get("values", {})
    chosen = state.get(DURATION, {}).get(DURATION, {})
    selected = chosen.get("selected_option")
    duration = selected.get("value") if isinstance(selected, Mapping) else chosen.get("value")
    reason = state.get(REASON, {}).get(REASON, {}).get("value")
    return (
        run_id,
        duration.strip() if isinstance(duration, str) and duration.strip() else None,
        reason.strip() if isinstance(reason, str) and reason.strip() else None,
    )
