"""Tells Slack what happened to runs: updates of the request message, DMs, error reports.

Each committed event Slack hears about is a row in the notification outbox, written with
the run (see ``notify/plan.py``); the deliverer hands it here in commit order per run,
so Slack never slows a request or a revocation down. A Slack error is logged and the
event's other messages still go.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from symbox.config.durations import format_duration, iso
from symbox.config.model import Config, Flow
from symbox.engine.model import GrantState, Run
from symbox.notify.plan import EXTENSION_EVENTS, SLACK_UPDATES, target_label
from symbox.slack import break_glass
from symbox.slack.blocks import access_buttons, request_message
from symbox.slack.status import escape, run_status_line
from symbox.slack.users import SlackDirectory
from symbox.store.reader import Reader
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer

log = logging.getLogger(__name__)


class SlackNotifier:
    """Updates request messages, DMs requesters and reports errors, one event at a time."""

    def __init__(
        self,
        *,
        config: Config,
        web: AsyncWebClient,
        directory: SlackDirectory,
        writer: Writer,
        reader: Reader,
    ) -> None:
        self._config = config
        self._web = web
        self._directory = directory
        self._writer = writer
        self._reader = reader

    async def deliver(self, run: Run, name: str, errors: Sequence[str]) -> None:
        """Tell Slack about one committed event of ``run`` (as it was committed).

        Each Slack step's failure is logged and the others still go: the event is told
        once, not retried.
        """
        flow = self._config.flow_by_name(run.flow)
        if flow is None:
            return
        # The request message itself (and a forward's, to the next destinations) is
        # posted from the notification outbox by SlackRequestPoster.
        if name == "request" and run.review is not None:
            # Break-glass: nothing was sent to anyone to decide; "granted" follows at once.
            return
        if name == "request":
            await self._attempt(
                run, self._dm(run.requester, f"Your request for {_flow_label(flow)} was sent.")
            )
            return
        if name == "request_forward":
            return
        if name in SLACK_UPDATES:
            await self._attempt(run, self._update_messages(run, flow))
        if name in EXTENSION_EVENTS:
            await self._extension_news(run, flow, name)
        if name == "break_glass":
            await self._attempt(run, self._break_glass_alert(run, flow))
        if name == "approve" and run.decision is None and run.approvals:
            # One of several approvals: the requester hears who, and how many are still due.
            last = run.approvals[-1]
            progress = f"{len(run.approvals)} of {run.approvals_required or 1}"
            await self._attempt(
                run,
                self._dm(
                    run.requester,
                    f"Your {_flow_label(flow)} request was approved by {last.actor.id} "
                    f"({progress}); it waits for the others.",
                ),
            )
        elif name in ("approve", "deny") and run.decision is not None:
            verb = "approved" if run.decision.approved else "denied"
            who = run.decision.actor.id
            reason = f": {escape(run.decision.reason)}" if run.decision.reason else ""
            await self._attempt(
                run,
                self._dm(
                    run.requester, f"Your {_flow_label(flow)} request was {verb} by {who}{reason}."
                ),
            )
        elif name == "escalate":
            until = run.grant.expires_at if run.grant else None
            text = f"Your {_flow_label(flow)} access is granted" + (
                f" until {iso(until)}." if until else "."
            )
            await self._attempt(run, self._dm(run.requester, text, access=(run, flow)))
        elif name == "deescalate":
            await self._attempt(
                run, self._dm(run.requester, f"Your {_flow_label(flow)} access was revoked.")
            )
        elif name == "request_expire":
            await self._attempt(
                run,
                self._dm(
                    run.requester, f"Your {_flow_label(flow)} request expired without a decision."
                ),
            )
        fast_retry = run.grant is not None and run.grant.state is GrantState.REVOKING
        retrying = name == "escalate_failed" or (name == "deescalate_failed" and fast_retry)
        if (errors or name == "hook_error") and not retrying:
            # A grant or revoke still being retried is not news yet (the request message
            # says so); a revoke failing past the bound is, and so is each slow retry that
            # fails after it.
            await self._attempt(run, self._report_error(run, flow, name, errors))

    async def _extension_news(self, run: Run, flow: Flow, name: str) -> None:
        """Tell the requester what became of their extension (approvers get a request
        message from the outbox, like a request's)."""
        extension = run.extension
        if extension is None:
            return
        more = format_duration(extension.duration)
        label = _flow_label(flow)
        if name == "extend_request":
            text = f"Your request for {more} more of {label} access was sent for approval."
        elif name == "extend":
            until = run.grant.expires_at if run.grant else None
            text = f"Your {label} access is extended by {more}" + (
                f" until {iso(until)}." if until else "."
            )
        else:
            who = extension.decided_by.id if extension.decided_by else "symbox"
            why = f": {escape(extension.decision_reason)}" if extension.decision_reason else ""
            text = f"Your request for {more} more of {label} access was denied by {who}{why}."
        await self._attempt(run, self._dm(run.requester, text, access=(run, flow)))

    async def _attempt(self, run: Run, step: Awaitable[object]) -> None:
        """Run one Slack step; a failure is logged and the run's other messages still go."""
        try:
            await step
        except SlackApiError as error:
            log.error(
                "Slack refused a message",
                extra={"run_id": run.id, "error": error.response.get("error")},
            )
        except Exception:
            log.exception("telling Slack about a run failed", extra={"run_id": run.id})

    async def _update_messages(self, run: Run, flow: Flow) -> None:
        text, blocks = request_message(
            run, flow, target_label(self._config, run.target), self._directory.known_ids()
        )
        for channel, ts in await self._reader.slack_messages(run.id):
            await self._attempt(
                run, self._web.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            )

    async def _dm(self, email: str, text: str, access: tuple[Run, Flow] | None = None) -> None:
        """DM ``email``; with ``access``, its run's Extend / Revoke buttons, kept updated."""
        user_id = await self._directory.user_id(email)
        if user_id is None:
            return
        buttons = [] if access is None else access_buttons(*access)
        blocks: list[dict[str, Any]] | None = None
        if buttons:
            blocks = [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "actions", "block_id": "revoke", "elements": buttons},
            ]
        response = await self._web.chat_postMessage(channel=user_id, text=text, blocks=blocks)
        if access is not None and buttons:
            run = access[0]
            channel, ts = str(response["channel"]), str(response["ts"])

            def remember(txn: WriteTxn) -> None:
                txn.add_slack_message(run.id, channel, ts)

            await self._writer.submit(remember)

    async def _report_error(self, run: Run, flow: Flow, name: str, errors: Sequence[str]) -> None:
        channel = self._error_channel(flow)
        error = (tuple(errors) or run.errors or ("unknown error",))[-1]
        if channel is not None:
            await self._web.chat_postMessage(
                channel=channel,
                text=f"symbox: run {run.id} ({flow.name}, {run.requester}): {escape(error)}",
            )
        if run.status.value == "errored" and name != "hook_error":
            await self._dm(
                run.requester,
                f"Something went wrong with your {_flow_label(flow)} request (run {run.id}).",
            )

    async def _break_glass_alert(self, run: Run, flow: Flow) -> None:
        """Break-glass is loud: the error logger's channel hears of it, with Review."""
        channel = self._error_channel(flow)
        if channel is None:
            log.warning("no error logger channel to tell of break-glass", extra={"run_id": run.id})
            return
        text, blocks = break_glass.alert(run, flow, escape)
        response = await self._web.chat_postMessage(channel=channel, text=text, blocks=blocks)
        posted, ts = str(response["channel"]), str(response["ts"])

        def remember(txn: WriteTxn) -> None:
            # Kept updated like a request message, so its Review button goes once reviewed.
            txn.add_slack_message(run.id, posted, ts)

        await self._writer.submit(remember)

    def _error_channel(self, flow: Flow) -> str | None:
        environment = self._config.environments.get(flow.environment)
        if environment is None or environment.error_logger is None:
            return None
        logger = self._config.error_loggers.get(environment.error_logger)
        return None if logger is None else logger.destination

    def status_line(self, run: Run) -> str | None:
        """The status line shown under a decided request (for tests and the handlers)."""
        return run_status_line(run, self._directory.known_ids())


def _flow_label(flow: Flow) -> str:
    return flow.label or flow.name
