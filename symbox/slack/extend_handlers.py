"""What the Extend button and its modal do in Slack.

The click opens the modal only for someone who may extend the run now; the submission
goes through the same run service as the API (channel ``slack``), as the Slack user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from symbox.config.model import Config, Flow
from symbox.engine.extensions import check_extendable
from symbox.engine.model import Actor, Run
from symbox.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable
from symbox.runs.extensions import extension_seconds
from symbox.runs.service import RunService
from symbox.slack.extend_blocks import DURATION, extend_form, extend_submitted

CHANNEL = "slack"
# The Slack user as an actor of a flow, or why they may not act on it.
Member = Callable[[str, Flow], Awaitable[Actor | str]]
Tell = Callable[[str, str, str | None], Awaitable[None]]


class SlackExtensions:
    """The Extend button's modal and its submission."""

    def __init__(
        self,
        *,
        config: Config,
        service: RunService,
        web: AsyncWebClient,
        member: Member,
        tell: Tell,
    ) -> None:
        self._config = config
        self._service = service
        self._web = web
        self._member = member
        self._tell = tell

    @staticmethod
    def submission_errors(view: Mapping[str, Any]) -> dict[str, Any] | None:
        """The ack of a submitted modal: the duration's problem next to it, if any."""
        submitted = extend_submitted(view)
        if submitted is None:
            return None
        _, duration, _ = submitted
        try:
            extension_seconds(duration)
        except BadRequest as error:
            message = str(error).removeprefix(f"{DURATION}: ")
            return {"response_action": "errors", "errors": {DURATION: message[:150]}}
        return None

    async def _runner(self, user_id: str, run_id: str) -> tuple[Run, Actor] | str:
        """The run and the Slack user acting on it, or what to tell them."""
        try:
            run = await self._service.get_run(run_id)
        except NotFound:
            return "That request no longer exists."
        flow = self._config.flow_by_name(run.flow)
        if flow is None:
            return f"The flow {run.flow} is no longer configured."
        actor = await self._member(user_id, flow)
        return actor if isinstance(actor, str) else (run, actor)

    async def clicked(
        self, user_id: str, run_id: str, trigger: object, channel: str | None
    ) -> None:
        """Open the Extend modal for the requester of an extendable run; else say why not."""
        found = await self._runner(user_id, run_id)
        if isinstance(found, str):
            await self._tell(user_id, found, channel)
            return
        run, actor = found
        flow = self._config.flow_by_name(run.flow)
        try:
            check_extendable(run, actor, self._service.clock.now())
        except Forbidden as error:
            await self._tell(user_id, f"You cannot do that: {error}", channel)
            return
        except Conflict as error:
            await self._tell(user_id, f"Nothing changed: {error}", channel)
            return
        if isinstance(trigger, str) and flow is not None:
            await self._web.views_open(trigger_id=trigger, view=extend_form(run, flow))

    async def submitted(self, user_id: str, view: Mapping[str, Any]) -> None:
        """Ask for the extension the modal describes, as the submitting user."""
        submitted = extend_submitted(view)
        if submitted is None:
            return
        run_id, duration, reason = submitted
        found = await self._runner(user_id, run_id)
        if isinstance(found, str):
            await self._tell(user_id, found, None)
            return
        _, actor = found
        try:
            await self._service.extensions.extend(
                actor=actor,
                run_id=run_id,
                duration=extension_seconds(duration),
                reason=reason,
                channel=CHANNEL,
            )
        except (BadRequest, Conflict, Forbidden, NotFound, Unavailable) as error:
            await self._tell(user_id, f"Your extension was not requested: {error}", None)
