"""What `/sym`, the request modal and the Approve / Deny / Revoke buttons do.

Every action goes through the same run service as the API, as the Slack user's email;
a refused action gets an ephemeral explanation and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from symbox.config.model import Config, Flow
from symbox.engine.admission import DuplicateRequest, TooManyOpen
from symbox.engine.forms import has_on_change, shapes_form
from symbox.engine.inputs import form_values, validate_inputs
from symbox.engine.model import Actor
from symbox.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HiddenRun,
    InputError,
    NotFound,
    Unavailable,
)
from symbox.flowhooks.forms import filled_inputs
from symbox.runs.refusals import FORBIDDEN, GUEST, NO_EMAIL, NOT_A_USER, Refusal, Refusals
from symbox.runs.service import RunService
from symbox.slack.blocks import (
    APPROVE,
    CHOOSE_FLOW,
    DECISION_FORM,
    DENY,
    FLOW_SELECT,
    REQUEST_FORM,
    REVOKE,
    decision_form,
    decision_submitted,
    field_errors,
    flow_chooser,
    form_inputs,
    request_form,
    shown_blocks,
    slack_flows,
)
from symbox.slack.break_glass import REVIEW
from symbox.slack.duplicates import MessagesOf, refusal_text
from symbox.slack.extend_blocks import EXTEND, EXTEND_APPROVE, EXTEND_DENY, EXTEND_FORM
from symbox.slack.extend_handlers import SlackExtensions
from symbox.slack.forms import SlackForms
from symbox.slack.users import SlackDirectory

log = logging.getLogger(__name__)
CHANNEL = "slack"
VERBS = {
    APPROVE: "approve",
    DENY: "deny",
    REVOKE: "revoke",
    EXTEND_APPROVE: "approve the extension of",
    EXTEND_DENY: "deny the extension of",
    REVIEW: "review",
}


class SlackHandlers:
    """Turns Slack envelopes into run service calls."""

    def __init__(
        self,
        *,
        config: Config,
        service: RunService,
        web: AsyncWebClient,
        directory: SlackDirectory,
        refusals: Refusals,
        messages_of: MessagesOf,
    ) -> None:
        self._config = config
        self._messages_of = messages_of
        self._service = service
        self._web = web
        self._directory = directory
        self._refusals = refusals
        # Request modals shaped by hooks (prefetched options, on_change), when any are.
        self._forms = None if service.forms is None else SlackForms(config, service.forms, web)
        self._extensions = SlackExtensions(
            config=config, service=service, web=web, member=self._actor, tell=self._tell
        )

    # The ack (no I/O)

    def ack_payload(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """What to answer Slack within its 3 seconds: a reply, modal errors or the next view."""
        if kind == "slash_commands":
            return self._command_reply(payload)
        if kind == "interactive" and payload.get("type") == "view_submission":
            return self._submission_reply(payload)
        return None

    def _command_reply(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        words = str(payload.get("text") or "").split()
        if not words or (words[0] == "req" and len(words) == 1):
            return None  # the flow chooser opens after the ack
        if words[0] == "req" and len(words) == 2 and self._slack_flow(words[1]) is not None:
            return None  # the flow's form opens after the ack
        names = ", ".join(f"`{flow.name}`" for flow in slack_flows(self._config)) or "none"
        if words[0] == "req" and len(words) == 2:
            text = f"There is no flow `{words[1]}` you can request here. Flows: {names}."
        else:
            text = f"Use `/sym` to choose a flow, or `/sym req FLOW`. Flows: {names}."
        return {"response_type": "ephemeral", "text": text}

    def _submission_reply(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        view = payload.get("view")
        if not isinstance(view, Mapping):
            return None
        state = view.get("state", {}).get("values", {})
        if view.get("callback_id") == EXTEND_FORM:
            return self._extensions.submission_errors(view)
        if view.get("callback_id") == CHOOSE_FLOW:
            flow = self._slack_flow(_chosen_flow(view))
            if flow is None:
                return {"response_action": "errors", "errors": {FLOW_SELECT: "choose a flow"}}
            return {"response_action": "update", "view": request_form(self._config, flow)}
        if view.get("callback_id") == REQUEST_FORM:
            flow = self._slack_flow(view.get("private_metadata"))
            if flow is None:
                return None  # handled after the ack, with a message to the user
            submitted = form_inputs(flow, state)
            form = (
                self._forms.state(view.get("id"), form_values(flow, submitted))
                if self._forms is not None
                else None
            )
            inputs = filled_inputs(submitted, form)
            # Without symbox's state for these values, an on_change may have made a field
            # optional: only what hooks cannot undo (types, the config's choices) is
            # refused here, and the run service, which builds the form, decides the rest.
            lenient = form is None and has_on_change(flow)
            try:
                validate_inputs(self._config, flow, inputs, form)
            except InputError as error:
                problems = [
                    problem
                    for problem in error.problems
                    if not (lenient and problem.endswith(": required"))
                ]
                errors = field_errors(problems, flow, shown_blocks(view))
                if errors:
                    return {"response_action": "errors", "errors": errors}
        return None

    async def suggest(self, payload: Mapping[str, Any], wait: float) -> dict[str, Any]:
        """Options for a prefetched drop-down (a block_suggestion, answered in its ack)."""
        if self._forms is None:
            return {"options": []}
        modal = await self._modal(payload)
        action = payload.get("action_id")
        if modal is None or not isinstance(action, str):
            return {"options": []}
        flow, view_id, actor = modal
        query = payload.get("value")
        return await self._forms.suggest(
            flow, actor.id, view_id, action, query if isinstance(query, str) else "", wait
        )

    async def _suggested(self, payload: Mapping[str, Any]) -> None:
        """After a drop-down's ack: prepare the modal's options if nothing did (a restart)."""
        modal = None if self._forms is None else await self._modal(payload)
        if self._forms is not None and modal is not None:
            flow, view_id, actor = modal
            if self._forms.should_open(view_id, flow, actor.id):
                await self._forms.opened(view_id, flow, actor.id)

    async def _modal(self, payload: Mapping[str, Any]) -> tuple[Flow, str, Actor] | None:
        """The request modal an event is about, and who may fill it; None if nobody."""
        view = payload.get("view")
        user_id = _user_id(payload)
        if not isinstance(view, Mapping) or not user_id:
            return None
        flow = self._slack_flow(view.get("private_metadata"))
        view_id = view.get("id")
        if flow is None or not isinstance(view_id, str):
            return None
        actor = await self._actor(user_id, flow)
        return None if isinstance(actor, str) else (flow, view_id, actor)

    def _slack_flow(self, name: object) -> Flow | None:
        if not isinstance(name, str):
            return None
        flow = self._config.flow_by_name(name)
        if flow is None or "slack" not in flow.params.allowed_sources:
            return None
        return flow

    # The work (after the ack)

    async def handle(
        self, kind: str, payload: dict[str, Any], acked: dict[str, Any] | None = None
    ) -> None:
        """Open modals, create runs and act on button clicks (``acked``: the ack's answer)."""
        if kind == "slash_commands":
            await self._command(payload)
        elif kind == "interactive":
            if payload.get("type") == "view_submission":
                if acked is not None and acked.get("response_action") == "errors":
                    return  # the modal is still open, showing why
                await self._submitted(payload)
            elif payload.get("type") == "block_suggestion":
                await self._suggested(payload)
            elif payload.get("type") == "block_actions":
                view = payload.get("view")
                if isinstance(view, Mapping) and view.get("callback_id") == REQUEST_FORM:
                    await self._form_changed(payload, view)
                else:
                    await self._clicked(payload)

    async def _command(self, payload: Mapping[str, Any]) -> None:
        if self._command_reply(payload) is not None:
            return  # the ack already answered
        trigger = payload.get("trigger_id")
        user_id = _user_id(payload)
        if not isinstance(trigger, str) or not user_id:
            return
        words = str(payload.get("text") or "").split()
        flow = self._slack_flow(words[1]) if len(words) == 2 else None
        person = await self._directory.person(user_id)
        if person is None or person.deleted or person.email is None:
            channel = payload.get("channel_id")
            await self._tell(
                user_id,
                "symbox cannot tell who you are: your Slack profile needs an email address.",
                channel=channel if isinstance(channel, str) else None,
            )
            return
        view = request_form(self._config, flow) if flow else flow_chooser(self._config)
        # Checked first, so the options are prepared the moment the modal exists.
        actor: Actor | str | None = None
        if flow is not None and self._forms is not None and shapes_form(flow):
            actor = await self._actor(user_id, flow)
        opened = await self._web.views_open(trigger_id=trigger, view=view)
        shown = opened.get("view")
        if flow is not None and isinstance(actor, Actor) and isinstance(shown, Mapping):
            await self._shape(shown.get("id"), flow, actor, user_id, shown.get("hash"))

    async def _shape(
        self, view_id: object, flow: Flow, actor: Actor, user_id: str, view_hash: object = None
    ) -> None:
        """Prefetch the options of a modal just opened, so drop-downs answer at once.

        Only for someone allowed to use the flow (anyone else's submission is refused
        with the reason, and no hook runs for them).
        """
        if self._forms is None or not isinstance(view_id, str) or not shapes_form(flow):
            return
        session = await self._forms.opened(view_id, flow, actor.id)
        failure = (
            session
            if isinstance(session, str)
            else await self._forms.redraw_opened(view_id, flow, session, view_hash)
        )
        if failure is not None:
            await self._tell(user_id, f"The form could not be prepared: {failure}")

    async def _form_changed(self, payload: Mapping[str, Any], view: Mapping[str, Any]) -> None:
        """A value changed in a request modal whose flow has an on_change: rebuild, redraw."""
        user_id = _user_id(payload)
        flow = self._slack_flow(view.get("private_metadata"))
        actions = payload.get("actions")
        if self._forms is None or flow is None or not user_id or not isinstance(actions, list):
            return
        actor = await self._actor(user_id, flow)
        if isinstance(actor, str):
            return
        for action in actions:
            block_id = action.get("block_id") if isinstance(action, Mapping) else None
            if isinstance(block_id, str):
                failure = await self._forms.changed(flow, actor.id, view, block_id)
                if failure is not None:
                    await self._tell(user_id, f"The form could not be updated: {failure}")

    async def _submitted(self, payload: Mapping[str, Any]) -> None:
        view = payload.get("view")
        user_id = _user_id(payload)
        if not isinstance(view, Mapping) or not user_id:
            return
        if view.get("callback_id") == EXTEND_FORM:
            await self._extensions.submitted(user_id, view)
            return
        if view.get("callback_id") == DECISION_FORM:
            decision = decision_submitted(view)
            if decision is not None:
                run_id, approve, message = decision
                action = APPROVE if approve else DENY
                refusal = await self._act(
                    user_id, action, run_id, reason=message, team=_team(payload)
                )
                if refusal is not None:
                    await self._tell(user_id, refusal)
            return
        if view.get("callback_id") == CHOOSE_FLOW:
            flow = self._slack_flow(_chosen_flow(view))
            actor: Actor | str | None = None
            if flow is not None and self._forms is not None and shapes_form(flow):
                actor = await self._actor(user_id, flow)
            if flow is not None and isinstance(actor, Actor):
                # The ack replaced the chooser by the flow's form, in the same view.
                await self._shape(view.get("id"), flow, actor, user_id)
            return
        if view.get("callback_id") != REQUEST_FORM:
            return
        if self._forms is not None:
            self._forms.forget(view.get("id"))
        flow = self._slack_flow(view.get("private_metadata"))
        if flow is None:
            await self._tell(user_id, "That flow cannot be requested from Slack.")
            return
        actor = await self._actor(user_id, flow)
        if isinstance(actor, str):
            await self._tell(user_id, actor)
            return
        inputs = form_inputs(flow, view.get("state", {}).get("values", {}))
        try:
            await self._service.request(
                actor=actor, flow_name=flow.name, requester=None, inputs=inputs, channel=CHANNEL
            )
        except (BadRequest, Forbidden, InputError, Unavailable) as error:
            await self._tell(user_id, f"Your request was not made: {error}")
        except (DuplicateRequest, TooManyOpen) as error:
            await self._tell(user_id, await refusal_text(self._web, self._messages_of, error))

    async def _clicked(self, payload: Mapping[str, Any]) -> None:
        user_id = _user_id(payload)
        actions = payload.get("actions")
        if not user_id or not isinstance(actions, list):
            return
        channel = payload.get("channel", {}).get("id") if payload.get("channel") else None
        for action in actions:
            if not isinstance(action, Mapping):
                continue
            action_id = action.get("action_id")
            run_id = action.get("value")
            if action_id not in (*VERBS, EXTEND) or not isinstance(run_id, str):
                continue
            trigger = payload.get("trigger_id")
            if action_id == EXTEND:
                await self._extensions.clicked(user_id, run_id, trigger, channel)
                continue
            if action_id in (APPROVE, DENY) and isinstance(trigger, str):
                asked = await self._ask_for_message(trigger, run_id, action_id == APPROVE)
                if asked:
                    continue
            refusal = await self._act(user_id, str(action_id), run_id, team=_team(payload))
            if refusal is not None:
                await self._tell(user_id, refusal, channel=channel)

    async def _ask_for_message(self, trigger: str, run_id: str, approve: bool) -> bool:
        """Open the decision modal when the run's flow wants a message; tell if it did."""
        try:
            run = await self._service.get_run(run_id)
        except NotFound:
            return False
        flow = self._config.flow_by_name(run.flow)
        if flow is None or not flow.params.include_decision_message:
            return False
        if run.status.value != "requested":
            return False  # deciding now answers with the conflict at once
        await self._web.views_open(trigger_id=trigger, view=decision_form(run, flow, approve))
        return True

    async def _act(
        self,
        user_id: str,
        action_id: str,
        run_id: str,
        reason: str | None = None,
        team: str | None = None,
    ) -> str | None:
        """Approve, deny or revoke as the clicking user; why not, if refused."""
        try:
            run = await self._service.get_run(run_id)
        except NotFound:
            return "That request no longer exists."
        flow = self._config.flow_by_name(run.flow)
        if flow is None:
            return f"The flow {run.flow} is no longer configured."
        actor = await self._member(user_id, flow)
        if not isinstance(actor, Actor):
            why, message = actor
            await self._refused(why, user_id, team, action_id, run_id, None, message)
            return message
        try:
            if action_id == REVOKE:
                await self._service.revoke(actor=actor, run_id=run_id, reason=None, channel=CHANNEL)
            elif action_id == REVIEW:
                await self._service.break_glass.review(
                    actor=actor, run_id=run_id, reason=None, channel=CHANNEL
                )
            elif action_id in (EXTEND_APPROVE, EXTEND_DENY):
                await self._service.extensions.decide(
                    actor=actor,
                    run_id=run_id,
                    approve=action_id == EXTEND_APPROVE,
                    reason=reason,
                    channel=CHANNEL,
                )
            else:
                await self._service.decide(
                    actor=actor,
                    run_id=run_id,
                    approve=action_id == APPROVE,
                    reason=reason,
                    channel=CHANNEL,
                )
        except Forbidden as error:
            await self._refused(FORBIDDEN, user_id, team, action_id, run_id, actor, str(error))
            return f"You cannot do that: {error}"
        except HiddenRun:
            # The API hides such runs; here the clicker has seen the request message.
            why = "you may not decide or revoke this flow's requests"
            await self._refused(FORBIDDEN, user_id, team, action_id, run_id, actor, why)
            return f"You cannot do that: {why}"
        except Conflict as error:
            return f"Nothing changed: {error}"
        except Unavailable as error:
            return f"symbox cannot take that now: {error}"
        except (BadRequest, NotFound) as error:
            return str(error)
        return None

    async def _actor(self, user_id: str, flow: Flow) -> Actor | str:
        """The Slack user as a symbox actor, or why they may not act on this flow."""
        member = await self._member(user_id, flow)
        return member if isinstance(member, Actor) else member[1]

    async def _member(self, user_id: str, flow: Flow) -> Actor | tuple[str, str]:
        """The Slack user as a symbox actor, or a refusal's reason code and message."""
        person = await self._directory.person(user_id)
        if person is None or person.deleted:
            return NOT_A_USER, "Your Slack account cannot use symbox."
        if person.email is None:
            return NO_EMAIL, "symbox needs your Slack profile's email address to know who you are."
        if person.guest and not flow.params.allow_guest_interaction:
            return GUEST, f"Guests cannot use the {flow.name} flow."
        return Actor.user(person.email)

    async def _refused(
        self,
        why: str,
        user_id: str,
        team: str | None,
        action_id: str,
        run_id: str,
        actor: Actor | None,
        detail: str,
    ) -> None:
        """Leave the trace of a refused click (or decision form)."""
        refusal = Refusal(
            surface=CHANNEL,
            why=why,
            what=f"{VERBS.get(action_id, action_id)} run {run_id}",
            origin=f"slack:{team}:{user_id}" if team else f"slack:{user_id}",
            who=str(actor) if actor is not None else f"slack user {user_id}",
            actor=actor,
            detail=detail,
        )
        await self._refusals.refused(refusal)

    async def _tell(self, user_id: str, text: str, channel: str | None = None) -> None:
        """An ephemeral message in ``channel``, or a DM when there is none."""
        if channel:
            await self._web.chat_postEphemeral(channel=channel, user=user_id, text=text)
        else:
            await self._web.chat_postMessage(channel=user_id, text=text)


def _user_id(payload: Mapping[str, Any]) -> str | None:
    user = payload.get("user")
    if isinstance(user, Mapping):
        value = user.get("id")
        return value if isinstance(value, str) else None
    value = payload.get("user_id")
    return value if isinstance(value, str) else None


def _team(payload: Mapping[str, Any]) -> str | None:
    """The Slack workspace a payload came from, when it says."""
    team = payload.get("team")
    value = team.get("id") if isinstance(team, Mapping) else payload.get("team_id")
    return value if isinstance(value, str) else None


def _chosen_flow(view: Mapping[str, Any]) -> object:
    """The flow name picked in the chooser modal, if any."""
    state = view.get("state", {}).get("values", {})
    chosen = state.get(FLOW_SELECT, {}).get(FLOW_SELECT, {}).get("selected_option")
    return chosen.get("value") if isinstance(chosen, Mapping) else None
