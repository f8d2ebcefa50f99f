"""Slack's Block Kit for break-glass runs: what a message says about them, and Review.

Pure functions from runs to Slack payloads; nothing here talks to Slack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symbox.config.durations import format_duration, iso
from symbox.config.model import Flow
from symbox.engine.breakglass import needs_review
from symbox.engine.model import Run
from symbox.slack.extend_blocks import button

REVIEW = "symbox_review"


def review_blocks(run: Run, escape: Callable[[str], str]) -> list[dict[str, Any]]:
    """A break-glass run's review line, with a Review button while it needs one."""
    review = run.review
    if review is None:
        return []
    if needs_review(run):
        line = ":rotating_light: *Break-glass*: granted without an approver; needs review"
        return [
            {"type": "section", "text": {"type": "mrkdwn", "text": line}},
            {
                "type": "actions",
                "block_id": "review",
                "elements": [button("Review", REVIEW, run.id, "primary")],
            },
        ]
    who = review.by.id if review.by is not None else "someone"
    when = f" at {iso(review.at)}" if review.at is not None else ""
    why = f" ({escape(review.reason)})" if review.reason else ""
    line = f"*Break-glass*: reviewed by {escape(who)}{when}{why}"
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}]


def alert(run: Run, flow: Flow, escape: Callable[[str], str]) -> tuple[str, list[dict[str, Any]]]:
    """The error-logger channel's message about a break-glass grant: text and blocks."""
    reason = run.decision.reason if run.decision is not None else None
    duration = f" for {format_duration(run.duration)}" if run.duration else ""
    target = f" on {escape(run.target)}" if run.target else ""
    text = (
        f"symbox: BREAK-GLASS by {run.requester}: {flow.name}{target}{duration} "
        f"without an approver (run {run.id}). Reason: {escape(reason or '')}"
    )
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":rotating_light: {text}"}},
        *review_blocks(run, escape)[1:],
    ]
    return text, blocks
