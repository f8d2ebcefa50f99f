"""Which notifications a committed run change causes: pure, so it runs inside the writer job.

A request (and a request forwarded after a timeout) goes to:

- every webhook in the flow's ``params.notify_ids`` (the request only, not its forwards);
- the destinations of the run's current notification that name a webhook
  (``"webhook:KEY"``) or an email address for email (``"email:ADDRESS"``);
- by email, every plain email destination (or, without a notification reducer, every
  email in ``vars.approvers``) when the flow's ``notify_ids`` lists an smtp integration;
- for a break-glass grant, all of the above (webhooks, email) although nothing is left
  to decide, and Slack's error logger channel (told by the Slack notifier);
- with Slack on, every Slack destination of the current notification (one row each, so
  one destination's retries never post to the others again), even a request decided in
  the same step: its Slack message shows the decision.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from symbox.audit.entry import redact
from symbox.config.durations import iso
from symbox.config.model import Config, Flow, Integration
from symbox.engine.model import Run, RunEvent, RunStatus
from symbox.engine.permissions import approvers
from symbox.notify.model import EMAIL, SLACK, WEBHOOK, Outgoing
from symbox.store.codec import run_to_json

log = logging.getLogger(__name__)

# The steps whose events post a request to someone.
REQUEST_EVENTS = frozenset({"request", "request_forward"})
# ...and in Slack, an extension waiting for approval is posted as a request too.
SLACK_POSTS = REQUEST_EVENTS | {"extend_request"}
# Extension events: each updates the request's messages and tells the requester.
EXTENSION_EVENTS = ("extend_request", "extend", "extend_deny")
# Events that change what a run's Slack request messages show.
SLACK_UPDATES = (
    "approve",
    "deny",
    "escalate",
    "escalate_failed",
    "deescalate",
    "request_expire",
    "withdraw",
    "break_glass",
    "review",
    *EXTENSION_EVENTS,
)
# Events Slack tells people about (besides any event that records errors).
SLACK_EVENTS = frozenset({"request", "hook_error", *SLACK_UPDATES})
# A break-glass grant goes wherever a request would, and more (see NotificationPlan).
BREAK_GLASS = "break_glass"
# What a Slack row does: post the request message to one destination, or tell Slack
# about one event.
POST = "post"
TELL = "tell"
_PREFIXES = {"webhook:": WEBHOOK, "email:": EMAIL}


def channel_of(destination: object) -> tuple[str, str] | None:
    """``("webhook", KEY)`` or ``("email", ADDRESS)`` for a destination meant for them, else None.

    Slack leaves such destinations alone; everything else is Slack's.
    """
    if not isinstance(destination, str):
        return None
    for prefix, kind in _PREFIXES.items():
        if destination.startswith(prefix):
            return kind, destination[len(prefix) :].strip()
    return None


class NotificationPlan:
    """Turns a run's committed events into the notifications to queue with them."""

    def __init__(self, config: Config, slack: str | None = None) -> None:
        self._config = config
        # The Slack integration that posts request messages, when Slack is on.
        self._slack = slack
        self._by_name: dict[str, Integration] = {}
        for integration in config.integrations.values():
            self._by_name.setdefault(integration.name, integration)
        for integration in config.integrations.values():
            self._by_name[integration.key] = integration

    def __call__(self, run: Run, events: Sequence[RunEvent]) -> list[Outgoing]:
        """The notifications ``events`` cause, given the run as committed."""
        flow = self._config.flow_by_name(run.flow)
        if flow is None:
            return []
        found: list[Outgoing] = []
        for event in events:
            found += self._for_slack(run, flow, event)
            if event.name == BREAK_GLASS and not event.errors:
                # Loud by design: every webhook and email a request of the flow reaches.
                found += [item for item in self._for_request(run, flow, event) if item not in found]
                continue
            if event.name not in REQUEST_EVENTS or event.errors:
                continue
            if run.status is not RunStatus.REQUESTED:
                # Decided (or failed) in the same step: nobody else needs asking.
                continue
            for outgoing in self._for_request(run, flow, event):
                if outgoing not in found:
                    found.append(outgoing)
        return found

    def _for_slack(self, run: Run, flow: Flow, event: RunEvent) -> list[Outgoing]:
        if self._slack is None:
            return []
        found: list[Outgoing] = []
        if event.name in SLACK_POSTS and not event.errors:
            # The request message, one row per destination: Slack shows every request,
            # decided in the same step or not.
            for destination in self._current_destinations(run, flow):
                if channel_of(destination) is not None:
                    continue
                posted = {"action": POST, "run_id": run.id, "destination": destination}
                shown = destination if isinstance(destination, str) else json.dumps(destination)
                outgoing = Outgoing(run.id, event.id, SLACK, self._slack, shown, posted)
                if outgoing not in found:
                    found.append(outgoing)
        if event.name in SLACK_EVENTS or event.errors:
            # What Slack says about the event (message updates, DMs, error reports) is
            # worked out when it is sent, from the run as this event left it.
            told = {
                "action": TELL,
                "run": run_to_json(run),
                "event": event.name,
                "errors": list(event.errors),
            }
            found.append(Outgoing(run.id, event.id, SLACK, self._slack, "", told))
        return found

    def _for_request(self, run: Run, flow: Flow, event: RunEvent) -> list[Outgoing]:
        message = request_message(run, flow, target_label(self._config, run.target), event)
        notifiers = [self._by_name[key] for key in flow.params.notify if key in self._by_name]
        mailer = next((item for item in notifiers if item.type == "smtp"), None)
        found: list[Outgoing] = []
        if event.name in ("request", BREAK_GLASS):
            for notifier in notifiers:
                if notifier.type == "webhook":
                    found.append(Outgoing(run.id, event.id, WEBHOOK, notifier.key, "", message))
        for destination in self._current_destinations(run, flow):
            routed = channel_of(destination)
            if routed is None:
                if mailer is not None and isinstance(destination, str) and _email(destination):
                    found.append(
                        Outgoing(run.id, event.id, EMAIL, mailer.key, destination.lower(), message)
                    )
                continue
            kind, name = routed
            wanted = "webhook" if kind == WEBHOOK else "smtp"
            integration = (
                self._by_name.get(name)
                if kind == WEBHOOK
                else mailer or self._only_integration("smtp")
            )
            if (
                integration is None
                or integration.type != wanted
                or (kind == EMAIL and not _email(name))
            ):
                log.warning(
                    "no %s integration for notification destination %r",
                    wanted,
                    destination,
                    extra={"run_id": run.id},
                )
                continue
            recipient = name.lower() if kind == EMAIL else ""
            found.append(Outgoing(run.id, event.id, kind, integration.key, recipient, message))
        return found

    def _current_destinations(self, run: Run, flow: Flow) -> Sequence[Any]:
        if run.notifications:
            return run.notifications[run.notified].get("destinations") or ()
        # Without a notification reducer, a request goes to the flow's approvers.
        return sorted(entry for entry in approvers(flow.vars) if _email(entry))

    def _only_integration(self, kind: str) -> Integration | None:
        found = [item for item in self._config.integrations.values() if item.type == kind]
        return found[0] if len(found) == 1 else None


def target_label(config: Config, name: str | None) -> str | None:
    """How a run's target is shown: its label, else its name (None without a target)."""
    for target in config.targets.values():
        if target.name == name:
            return target.label or target.name
    return None


def _email(value: str) -> bool:
    return "@" in value and not value.startswith("#") and " " not in value.strip()


def request_message(
    run: Run, flow: Flow, target_label: str | None, event: RunEvent
) -> Mapping[str, Any]:
    """What every channel says about a request, as plain data kept with the queued row."""
    fields = {key: value for key, value in redact(dict(run.fields)).items() if key != "target"}
    message: dict[str, Any] = {
        "event": event.name,
        "run_id": run.id,
        "flow": flow.name,
        "flow_label": flow.label or flow.name,
        "requester": run.requester,
        "target": run.target,
        "target_label": target_label,
        "reason": fields.get("reason"),
        "fields": fields,
        "requested_at": iso(run.created_at),
        "expires_at": iso(run.request_expires_at),
        "commands": {"approve": f"symbox approve {run.id}", "deny": f"symbox deny {run.id}"},
    }
    if event.name == BREAK_GLASS:
        # Nothing is left to decide: the requester granted it; an approver reviews it.
        message = {
            **message,
            "break_glass_reason": run.decision.reason if run.decision else None,
            "commands": {"review": f"symbox review {run.id}"},
        }
    return message
