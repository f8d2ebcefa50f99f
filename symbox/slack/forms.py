"""Open request modals whose form hooks shape: prefetched options and on_change updates.

A modal's form state lives here, by view id, from the moment it opens until it is
submitted or forgotten (bounded and aged out). The run service checks the submitted
request again against the form its values lead to, so this state only guides the modal.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from symbox.config.model import Config, Flow
from symbox.engine.forms import FormState, Option, initial_form
from symbox.flow_forms import FlowForms
from symbox.locks import KeyedLocks
from symbox.slack.blocks import field_name, form_inputs, request_form, suggestions

log = logging.getLogger(__name__)

# Modals kept at once, and how long one is kept after its last use (Slack's own limit on
# an open modal is hours; a requester who comes back later reopens the form).
MAX_SESSIONS = 2048
SESSION_SECONDS = 3600.0


@dataclass
class FormSession:
    """One open modal: its flow, its form's state and the block revisions shown."""

    flow: str
    requester: str
    state: FormState
    revisions: dict[str, int] = field(default_factory=dict)
    used: float = 0.0


class SlackForms:
    """Keeps open modals' form state and answers Slack's option and change events."""

    def __init__(
        self,
        config: Config,
        forms: FlowForms,
        web: AsyncWebClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._forms = forms
        self._web = web
        self._clock = clock
        self._sessions: OrderedDict[str, FormSession] = OrderedDict()
        self._locks = KeyedLocks()

    def state(self, view_id: object) -> tuple[FormState, Mapping[str, int]] | None:
        """The open modal's form state and block revisions, if symbox has them (no I/O)."""
        session = self._sessions.get(view_id) if isinstance(view_id, str) else None
        if session is None:
            return None
        return session.state, session.revisions

    def forget(self, view_id: object) -> None:
        """Drop a submitted or closed modal's state."""
        if isinstance(view_id, str):
            self._sessions.pop(view_id, None)

    async def opened(self, view_id: str, flow: Flow, requester: str) -> FormSession | str:
        """The modal's session, run prefetch reducers the first time; the error text."""
        async with self._locks.hold(view_id):
            session = self._sessions.get(view_id)
            # A modal is one person's: options prefetched for someone else are never shown.
            if session is not None and (session.flow, session.requester) == (
                flow.name,
                requester,
            ):
                session.used = self._clock()
                self._sessions.move_to_end(view_id)
                return session
            state = await self._forms.initial(flow, requester)
            if isinstance(state, str):
                return state
            session = FormSession(flow.name, requester, state, used=self._clock())
            self._sessions[view_id] = session
            self._prune()
            return session

    async def suggest(
        self, flow: Flow, requester: str, view_id: str, action: str, query: str
    ) -> dict[str, Any]:
        """Options for a prefetched drop-down, filtered by what the requester typed."""
        session = await self.opened(view_id, flow, requester)
        if isinstance(session, str):
            return {"options": []}
        shaped = session.state.field(field_name(action))
        options: tuple[Option, ...] = shaped.current or () if shaped is not None else ()
        return suggestions(options, query)

    async def changed(
        self, flow: Flow, requester: str, view: Mapping[str, Any], block_id: str
    ) -> str | None:
        """Run the changed field's on_change and redraw the modal; the error text if any."""
        view_id = view.get("id")
        prompt_field = flow.field(field_name(block_id))
        if not isinstance(view_id, str) or prompt_field is None or not prompt_field.on_change:
            return None
        session = await self.opened(view_id, flow, requester)
        if isinstance(session, str):
            return session
        async with self._locks.hold(view_id):
            values = form_inputs(flow, view.get("state", {}).get("values", {}))
            typed = initial_form(flow, values, {})
            state = session.state
            for item in typed.fields:
                current = state.field(item.name)
                if current is not None and current.visible:
                    state = state.with_field(replace(current, value=values.get(item.name)))
            shaped = await self._forms.changed(flow, requester, state, prompt_field)
            if isinstance(shaped, str):
                return shaped
            for item in shaped.fields:
                before = state.field(item.name)
                if before is not None and before.value != item.value:
                    session.revisions[item.name] = session.revisions.get(item.name, 0) + 1
            session.state = shaped
            session.used = self._clock()
            redrawn = request_form(self._config, flow, shaped, session.revisions)
        try:
            await self._web.views_update(view_id=view_id, hash=view.get("hash"), view=redrawn)
        except SlackApiError as error:
            # hash_conflict: the requester changed the modal meanwhile; that change redraws.
            log.info("request modal not redrawn: %s", error.response.get("error"))
        return None

    def _prune(self) -> None:
        now = self._clock()
        while self._sessions and (
            len(self._sessions) > MAX_SESSIONS
            or next(iter(self._sessions.values())).used < now - SESSION_SECONDS
        ):
            self._sessions.popitem(last=False)
