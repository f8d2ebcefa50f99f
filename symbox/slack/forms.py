"""Open request modals whose form hooks shape: prefetched options and on_change redraws.

A modal's form state lives here, by view id, from the moment it opens until it is
submitted or aged out (bounded in number, per requester too). The state is always the
one the run service would build from the values in the modal (``FlowForms.build``), so
what the modal allows and what the service accepts agree. Hooks never run in an ack: a
drop-down's options come from state prepared after the modal opened.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from symbox.config.model import Config, Flow
from symbox.engine.forms import FormState, Option, has_on_change
from symbox.engine.inputs import form_values
from symbox.flowhooks.forms import FlowForms, Prefetched
from symbox.runs.locks import KeyedLocks
from symbox.slack.blocks import (
    field_name,
    form_inputs,
    request_form,
    suggestions,
    unchanged_state,
)

log = logging.getLogger(__name__)

# Modals kept at once, per requester, and how long one is kept after its last use.
MAX_SESSIONS = 2048
MAX_SESSIONS_PER_REQUESTER = 5
SESSION_SECONDS = 3600.0
# After a failed prefetch, how long drop-downs stay empty before it is tried again.
RETRY_SECONDS = 30.0


@dataclass
class FormSession:
    """One open modal: its flow, who fills it, the form's state and what Slack shows."""

    flow: str
    requester: str
    prefetched: Prefetched
    state: FormState
    # The values the modal submits if nothing changes, once it shows ``state``; None
    # until then (a state not drawn yet must not judge a submission).
    values: dict[str, Any] | None = None
    revisions: dict[str, int] = field(default_factory=dict)
    # The view's hash after symbox last updated it (Slack refuses an update with an old one).
    hash: str | None = None
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
        self._opening: dict[str, anyio.Event] = {}
        self._failed: dict[str, float] = {}
        self._locks = KeyedLocks()

    def state(self, view_id: object, values: Mapping[str, Any]) -> FormState | None:
        """The open modal's form state if it was built from ``values`` (no I/O).

        None when symbox has no drawn state for the modal, or drew it for other values
        (text typed without a change event): the ack then refuses only what hooks cannot
        change, and the run service builds the form.
        """
        session = self._sessions.get(view_id) if isinstance(view_id, str) else None
        if session is None or session.values is None or session.values != dict(values):
            return None
        return session.state

    def forget(self, view_id: object) -> None:
        """Drop a submitted modal's state."""
        if isinstance(view_id, str):
            self._sessions.pop(view_id, None)

    def _session(self, view_id: str, flow: Flow, requester: str) -> FormSession | None:
        session = self._sessions.get(view_id)
        # A modal is one person's: options prefetched for someone else are never shown.
        if session is None or (session.flow, session.requester) != (flow.name, requester):
            return None
        return session

    async def opened(self, view_id: str, flow: Flow, requester: str) -> FormSession | str:
        """The modal's session: prefetch and build the form the first time; the error."""
        # Marked before any await, so a drop-down opened meanwhile waits for it.
        self._opening.setdefault(view_id, anyio.Event())
        async with self._locks.hold(view_id):
            session = self._session(view_id, flow, requester)
            if session is not None:
                self._done_opening(view_id)
                session.used = self._clock()
                self._sessions.move_to_end(view_id)
                return session
            try:
                prefetched = await self._forms.prefetched(flow, requester)
                state = (
                    prefetched
                    if isinstance(prefetched, str)
                    else await self._forms.build(flow, requester, form_values(flow, {}), prefetched)
                )
                if isinstance(prefetched, str) or isinstance(state, str):
                    self._failed[view_id] = self._clock()
                    self._prune(requester)
                    return str(state)
                session = FormSession(flow.name, requester, prefetched, state)
                session.used = self._clock()
                self._sessions[view_id] = session
                self._failed.pop(view_id, None)
                self._prune(requester)
                return session
            finally:
                self._done_opening(view_id)

    def _done_opening(self, view_id: str) -> None:
        event = self._opening.pop(view_id, None)
        if event is not None:
            event.set()

    def should_open(self, view_id: str, flow: Flow, requester: str) -> bool:
        """Whether a drop-down's request should prepare this modal's state in the background."""
        if self._session(view_id, flow, requester) is not None or view_id in self._opening:
            return False
        failed = self._failed.get(view_id)
        return failed is None or failed < self._clock() - RETRY_SECONDS

    async def suggest(
        self, flow: Flow, requester: str, view_id: str, action: str, query: str, wait: float
    ) -> dict[str, Any]:
        """Options for a prefetched drop-down, filtered by what the requester typed.

        Runs no hook: it waits (at most ``wait`` s) for a modal still being prepared, and
        answers no options for one that is not (the background work prepares it).
        """
        session = self._session(view_id, flow, requester)
        opening = self._opening.get(view_id)
        if session is None and opening is not None:
            with anyio.move_on_after(wait):
                await opening.wait()
            session = self._session(view_id, flow, requester)
        shaped = session.state.field(field_name(action)) if session is not None else None
        options: tuple[Option, ...] = shaped.current or () if shaped is not None else ()
        return suggestions(options, query)

    async def changed(
        self, flow: Flow, requester: str, view: Mapping[str, Any], block_id: str
    ) -> str | None:
        """Rebuild the form from the modal's values and redraw it; the error text if any."""
        view_id = view.get("id")
        changes = has_on_change(flow)
        if not isinstance(view_id, str) or flow.field(field_name(block_id)) is None or not changes:
            return None
        session = await self.opened(view_id, flow, requester)
        if isinstance(session, str):
            return session
        async with self._locks.hold(view_id):
            values = form_values(flow, form_inputs(flow, view.get("state", {}).get("values", {})))
            state = await self._forms.build(flow, requester, values, session.prefetched)
            if isinstance(state, str):
                return state
            return await self._redraw(
                view_id, flow, session, state, values, session.hash or view.get("hash")
            )

    async def redraw_opened(
        self, view_id: str, flow: Flow, session: FormSession, view_hash: object
    ) -> str | None:
        """Show a just-opened modal as its hooks shaped it (defaults' on_change, options)."""
        async with self._locks.hold(view_id):
            if session.values is not None:
                return None  # a change event drew it already
            shown = request_form(self._config, flow)
            typed = submitted_values(flow, shown)
            return await self._redraw(
                view_id, flow, session, session.state, typed, view_hash, unchanged=shown
            )

    async def _redraw(
        self,
        view_id: str,
        flow: Flow,
        session: FormSession,
        state: FormState,
        typed: Mapping[str, Any],
        view_hash: object,
        *,
        unchanged: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Update the modal to show ``state``; only then keep it. The error text, if any.

        With ``unchanged`` (the view Slack shows now), no update is sent when the new
        view would be the same.
        """
        revisions = dict(session.revisions)
        for item in state.fields:
            if item.visible and not _same(item.value, typed.get(item.name)):
                # Slack keeps what a block shows; a new block id shows the hooks' value.
                revisions[item.name] = revisions.get(item.name, 0) + 1
        redrawn = request_form(self._config, flow, state, revisions)
        if unchanged is not None and redrawn == unchanged:
            session.state, session.values = state, submitted_values(flow, redrawn)
            return None
        try:
            answer = await self._web.views_update(
                view_id=view_id,
                hash=view_hash if isinstance(view_hash, str) else None,
                view=redrawn,
            )
        except SlackApiError as error:
            # The modal keeps showing its last state, which the session still holds.
            reason = str(error.response.get("error"))
            log.info("request modal not redrawn: %s", reason)
            # Changed meanwhile (its next change redraws it) or closed: nothing to tell.
            quiet = reason in ("hash_conflict", "not_found")
            return None if quiet else f"Slack refused the form ({reason})"
        shown = answer.get("view")
        session.hash = shown.get("hash") if isinstance(shown, Mapping) else None
        session.state, session.revisions = state, revisions
        session.values = submitted_values(flow, redrawn)
        session.used = self._clock()
        return None

    def _prune(self, requester: str) -> None:
        now = self._clock()
        mine = [key for key, item in self._sessions.items() if item.requester == requester]
        for key in mine[:-MAX_SESSIONS_PER_REQUESTER]:
            del self._sessions[key]
        while self._sessions and (
            len(self._sessions) > MAX_SESSIONS
            or next(iter(self._sessions.values())).used < now - SESSION_SECONDS
        ):
            self._sessions.popitem(last=False)
        for key in [key for key, at in self._failed.items() if at < now - RETRY_SECONDS]:
            del self._failed[key]


def submitted_values(flow: Flow, view: Mapping[str, Any]) -> dict[str, Any]:
    """The values (``form_values``) Slack submits for ``view`` if nothing is changed."""
    return form_values(flow, form_inputs(flow, unchanged_state(view)))


def _same(shown: Any, typed: Any) -> bool:
    # A list field's value may be a tuple (config) or a list (typed): the same to Slack.
    if isinstance(shown, tuple):
        shown = list(shown)
    return bool(shown == typed)
