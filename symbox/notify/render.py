"""What a request notification says: a subject and text, and the bodies webhooks accept."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

# Fields already shown in their own lines of a notification.
_SHOWN = frozenset({"reason"})


def subject(message: Mapping[str, Any]) -> str:
    """One line naming the flow and the requester (an email's subject, a card's title)."""
    if message.get("event") == "break_glass":
        return f"BREAK-GLASS: {message['flow_label']} access taken by {message['requester']}"
    line = f"{message['flow_label']} access request from {message['requester']}"
    # A forwarded request is one nobody decided in time: its new recipients are backups.
    return line + " (still waiting)" if message.get("event") == "request_forward" else line


def facts(message: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The request's details as (title, value) pairs, in the order people read them."""
    rows = [("Requester", str(message["requester"])), ("Flow", str(message["flow_label"]))]
    if message.get("target"):
        rows.append(("Target", str(message.get("target_label") or message["target"])))
    if message.get("reason"):
        rows.append(("Reason", str(message["reason"])))
    if message.get("break_glass_reason"):
        rows.append(("Break-glass reason", str(message["break_glass_reason"])))
    for name, value in sorted((message.get("fields") or {}).items()):
        if name not in _SHOWN:
            shown = _duration(value) if name == "duration" else _show(value)
            rows.append((name.replace("_", " ").capitalize(), shown))
    rows.append(("Run", str(message["run_id"])))
    rows.append(("Expires", str(message["expires_at"])))
    return rows


def commands(message: Mapping[str, Any]) -> list[str]:
    """How to decide from a terminal."""
    found = message.get("commands") or {}
    return [str(found[name]) for name in ("approve", "deny", "review") if name in found]


def text(message: Mapping[str, Any]) -> str:
    """The whole notification as plain text (an email body, a chat message)."""
    lines = [subject(message), ""]
    lines += [f"{title}: {value}" for title, value in facts(message)]
    lines += ["", _to_act(message), *(f"  {command}" for command in commands(message))]
    return "\n".join(lines) + "\n"


def email_html(message: Mapping[str, Any]) -> str:
    """The notification as a small HTML page, every value escaped."""
    rows = "".join(
        f"<tr><th align='left'>{html.escape(title)}</th><td>{html.escape(value)}</td></tr>"
        for title, value in facts(message)
    )
    decide = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in commands(message))
    return (
        f"<html><body><p><strong>{html.escape(subject(message))}</strong></p>"
        f"<table>{rows}</table><p>{_to_act(message)}</p><ul>{decide}</ul></body></html>"
    )


def webhook_body(shape: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON a webhook receives: symbox's own, a Teams card, or a Google Chat message."""
    if shape == "teams":
        return _teams(message)
    if shape == "gchat":
        return {"text": text(message)}
    kind = "symbox.break_glass" if message.get("event") == "break_glass" else "symbox.request"
    return {"type": kind, "title": subject(message), **message}


def _to_act(message: Mapping[str, Any]) -> str:
    # Break-glass access is granted already: what is left is reviewing it.
    return "To review:" if message.get("event") == "break_glass" else "To decide:"


def _teams(message: Mapping[str, Any]) -> dict[str, Any]:
    # The "message" envelope with an Adaptive Card is what both Teams incoming webhooks
    # and Teams workflows ("post to a channel when a webhook request is received") take.
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": subject(message),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {
                "type": "FactSet",
                "facts": [{"title": title, "value": value} for title, value in facts(message)],
            },
            {"type": "TextBlock", "text": "To decide:", "wrap": True},
            *(
                {"type": "TextBlock", "text": command, "fontType": "Monospace", "wrap": True}
                for command in commands(message)
            ),
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _duration(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return _show(value)
    seconds = int(value)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
