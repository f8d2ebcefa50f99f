"""The run ledger: commits run transitions with their events and audit records.

Every change to a run goes through here as one writer job (the run, its events, their
audit records and the notifications they cause in one transaction); then the schedule
and the timer are told (and the outboxes' workers woken), and the ``after_*`` hooks of
the completed steps run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from functools import partial
from typing import Any

from symbox import logs
from symbox.audit.entry import run_entry
from symbox.clock import Clock
from symbox.config.model import Config, Target
from symbox.engine import runs as engine
from symbox.engine.model import GrantState, Run, RunEvent, RunStatus
from symbox.engine.schedule import ExpirySchedule
from symbox.errors import NotFound
from symbox.flowhooks.calls import FlowHooks
from symbox.notify.model import Outgoing
from symbox.sandbox.hooks import HookOutcome
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer

log = logging.getLogger(__name__)

Step = Callable[[Run], engine.Transition]
# Set while the timer does a run's due work: symbox's own events then say channel "timer"
# (the expiry, a forwarded or expired request, a retried grant), not the request's channel.
TIMER_CHANNEL = "timer"
_working_for: ContextVar[str | None] = ContextVar("symbox_work_channel", default=None)


@contextmanager
def timer_work() -> Iterator[None]:
    """Mark the work done in this context as the timer's."""
    token = _working_for.set(TIMER_CHANNEL)
    try:
        yield
    finally:
        _working_for.reset(token)


# Events that record something going wrong, logged as warnings.
_FAILURES = frozenset({"escalate_failed", "deescalate_failed", "hook_error", "error"})

# An approval escalates inline; the timer looks again this much later in case it could
# not (the stored due time stays the approval's, so a restart escalates at once).
ESCALATION_SAFETY_NET = 30.0
# Steps whose completion runs the flow's after_<step> hook (side effects only).
AFTER_HOOK_STEPS = frozenset(
    {
        "request",
        "approve",
        "deny",
        "escalate",
        "deescalate",
        "request_forward",
        "request_expire",
        "extend",
    }
)


def _via(transition: engine.Transition, channel: str | None) -> engine.Transition:
    """``transition`` with symbox's own events on ``channel`` (the timer's), if given."""
    if channel is None:
        return transition
    events = tuple(
        replace(event, channel=channel) if event.actor.kind == "system" else event
        for event in transition.events
    )
    return replace(transition, events=events)


class RunLedger:
    """Commits transitions with their notifications; tells the schedule; runs ``after_*``."""

    def __init__(
        self,
        *,
        writer: Writer,
        config: Config,
        clock: Clock,
        schedule: ExpirySchedule,
        target_of: Callable[[Run], Target | None],
        hooks: FlowHooks | None,
        on_commit: Callable[[float | None], None],
        notifications: Callable[[Run, Sequence[RunEvent]], Sequence[Outgoing]] | None = None,
    ) -> None:
        self._writer = writer
        self._config = config
        self._clock = clock
        self._schedule = schedule
        self._target_of = target_of
        self._hooks = hooks
        self._on_commit = on_commit
        # The Slack messages, webhook posts and emails a change causes, queued with it.
        self._notifications = notifications

    async def commit_new(
        self,
        transition: engine.Transition,
        admit: Callable[[Sequence[Run]], None] | None = None,
        *,
        escalating_inline: bool = False,
    ) -> Run:
        """Store a new run with its first events.

        ``admit`` sees the requester's open runs of the flow in the same transaction, so
        two requests at once cannot both pass it; it refuses by raising. With
        ``escalating_inline`` the caller escalates the new run itself (as ``step`` says).
        """
        run = transition.run

        def job(txn: WriteTxn) -> engine.Transition:
            if admit is not None:
                admit(txn.open_runs(run.flow, run.requester))
            self._save(txn, transition, new=True)
            return transition

        committed = await self._writer.submit(job)
        self._log(committed)
        self._after_commit(committed.run, escalating_inline)
        return await self._after_hooks(committed)

    async def step(self, run_id: str, step: Step, *, escalating_inline: bool = False) -> Run:
        """Apply ``step`` to the run as stored, inside the writer, so steps never race.

        With ``escalating_inline`` the caller escalates the run itself right away, so the
        timer only keeps a late safety net for it instead of racing the caller.
        """

        # Read here: the writer runs jobs on its own thread, outside this context.
        channel = _working_for.get()

        def job(txn: WriteTxn) -> engine.Transition:
            current = txn.get_run(run_id)
            if current is None:
                raise NotFound(f"no run {run_id!r}")
            transition = _via(step(current), channel)
            self._save(txn, transition)
            return transition

        committed = await self._writer.submit(job)
        self._log(committed)
        self._after_commit(committed.run, escalating_inline)
        return await self._after_hooks(committed)

    async def step_each(
        self, steps: Sequence[tuple[str, Step]], known: Mapping[str, Run] | None = None
    ) -> list[Run | Exception]:
        """Apply each ``(run_id, step)`` as ``step`` does, all in one writer job (each run
        at most once).

        Each run's change is all-or-nothing on its own: a step that raises comes back as
        its exception, and the others are committed. ``known`` holds runs as the caller
        read them, stepped without reading them again unless they changed since. If the
        job as a whole fails (the commit), that error is raised and nothing was stored.
        """
        channel = _working_for.get()
        known = known or {}

        def optimistic(txn: WriteTxn) -> list[engine.Transition | Exception]:
            # No savepoint per run: a step raises before anything is written, and the
            # runs' rows are written together (a run that changed since it was read is left
            # as it was, then stepped as it is stored now). A failure past that would leave
            # runs half written: the job fails (all of it is undone) and the group is done
            # again run by run.
            done: list[engine.Transition | Exception] = []
            for run_id, step in steps:
                try:
                    current = txn.get_run(run_id, known.get(run_id))
                    if current is None:
                        raise NotFound(f"no run {run_id!r}")
                    done.append(_via(step(current), channel))
                except Exception as error:
                    done.append(error)
            stale = txn.save_runs(
                [
                    (item.run, engine.due_at(item.run))
                    for item in done
                    if not isinstance(item, Exception)
                ]
            )
            for index, item in enumerate(done):
                if isinstance(item, Exception) or item.run.id not in stale:
                    continue
                try:
                    done[index] = self._stepped(txn, item.run.id, steps[index][1], channel)
                except Exception as error:
                    if not txn.in_transaction:
                        raise  # the database gave up the whole transaction
                    done[index] = error
            self._record_all(txn, [item for item in done if not isinstance(item, Exception)])
            return done

        def careful(txn: WriteTxn) -> list[engine.Transition | Exception]:
            done: list[engine.Transition | Exception] = []
            for run_id, step in steps:
                try:
                    with txn.savepoint():
                        transition = self._stepped(txn, run_id, step, channel)
                        self._record(txn, transition)
                except Exception as error:
                    done.append(error)
                else:
                    done.append(transition)
            return done

        try:
            outcomes = await self._writer.submit(optimistic)
        except Exception:
            log.warning("a group of steps failed as a whole; stepping its runs one by one")
            outcomes = await self._writer.submit(careful)
        for outcome in outcomes:
            if not isinstance(outcome, Exception):
                self._log(outcome)
                self._after_commit(outcome.run)
        return [
            outcome if isinstance(outcome, Exception) else await self._after_hooks(outcome)
            for outcome in outcomes
        ]

    def _stepped(
        self, txn: WriteTxn, run_id: str, step: Step, channel: str | None
    ) -> engine.Transition:
        """Apply ``step`` to the run as stored and store the run's row (not yet its events)."""
        current = txn.get_run(run_id)
        if current is None:
            raise NotFound(f"no run {run_id!r}")
        transition = _via(step(current), channel)
        txn.save_run(transition.run, engine.due_at(transition.run))
        return transition

    async def record_hook_error(self, run: Run, hook: str, error: str | None) -> Run:
        """Keep a hook's failure on a run whose step went ahead anyway."""
        if error is None:
            return run
        failed = partial(engine.after_hook_failed, hook=hook, error=error, now=self._clock.now())
        return await self.step(run.id, failed)

    async def fail_for_hook(self, run: Run, hook: str, outcome: HookOutcome | str) -> Run:
        """Error ``run`` for a hook that failed (``outcome`` is then its error text)."""
        if isinstance(outcome, HookOutcome):
            return run
        failed = partial(engine.hook_failed, hook=hook, error=outcome, now=self._clock.now())
        return await self.step(run.id, failed)

    async def _after_hooks(self, committed: engine.Transition) -> Run:
        """Run the ``after_*`` hook of each step the transition completed."""
        run = committed.run
        if self._hooks is None:
            return run
        flow = self._config.flow_by_name(run.flow)
        for event in committed.events:
            if flow is None or event.name not in AFTER_HOOK_STEPS or event.errors:
                continue
            if event.name == "approve" and event.status is RunStatus.REQUESTED:
                # One of several approvals: after_approve follows the one that approves.
                continue
            error = await self._hooks.after(run, flow, event.name, event.actor)
            run = await self.record_hook_error(run, f"after_{event.name}", error)
        return run

    def _save(self, txn: WriteTxn, transition: engine.Transition, *, new: bool = False) -> None:
        run = transition.run
        txn.save_run(run, engine.due_at(run), new=new or None)
        self._record(txn, transition)

    def _record_all(self, txn: WriteTxn, transitions: Sequence[engine.Transition]) -> None:
        """``_record`` for many transitions, their events and audit records written together."""
        events: list[RunEvent] = []
        entries: list[dict[str, Any]] = []
        for transition in transitions:
            run = transition.run
            target = self._target_of(run)
            for event in transition.events:
                events.append(event)
                entries.append(run_entry(event, run, target))
        txn.add_events(events)
        txn.append_audits(entries)
        if self._notifications is not None:
            now = self._clock.now()
            for transition in transitions:
                for outgoing in self._notifications(transition.run, transition.events):
                    txn.add_notification(outgoing, now)

    def _record(self, txn: WriteTxn, transition: engine.Transition) -> None:
        """Store a transition's events, their audit records and notifications."""
        run = transition.run
        target = self._target_of(run)
        for event in transition.events:
            txn.add_event(event)
            txn.append_audit(run_entry(event, run, target))
        if self._notifications is not None:
            now = self._clock.now()
            for outgoing in self._notifications(run, transition.events):
                txn.add_notification(outgoing, now)

    def _log(self, committed: engine.Transition) -> None:
        """One line per committed event: the story of a run, found by its run_id."""
        run = committed.run
        logs.note(run_id=run.id, flow=run.flow)
        for event in committed.events:
            level = logging.WARNING if event.name in _FAILURES or event.errors else logging.INFO
            log.log(
                level,
                f"run {event.name}",
                extra={
                    "run_id": run.id,
                    "flow": run.flow,
                    "event": event.name,
                    "status": run.status.value,
                    "actor": str(event.actor),
                    "channel": event.channel,
                    **({"errors": list(event.errors)} if event.errors else {}),
                },
            )

    def _after_commit(self, run: Run, escalating_inline: bool = False) -> None:
        due = engine.due_at(run)
        grant = run.grant
        if escalating_inline and due is not None and grant and grant.state is GrantState.ESCALATING:
            due += ESCALATION_SAFETY_NET
        self._schedule.set(run.id, due)
        self._on_commit(due)
