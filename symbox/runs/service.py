"""The run service: every way a run changes, as engine decisions committed with their audit."""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar

from symbox import logs
from symbox.clock import Clock
from symbox.config.call_limits import call_limits
from symbox.config.model import Config, Flow, Target
from symbox.config.people import InvalidEmail, canonical_email, same_person
from symbox.engine import admission
from symbox.engine import runs as engine
from symbox.engine.inputs import validate_inputs
from symbox.engine.model import Actor, GrantState, Run, RunEvent, RunStatus
from symbox.engine.permissions import DecisionRule, approves, may_view
from symbox.engine.schedule import ExpirySchedule, RetryPolicy
from symbox.errors import BadRequest, Conflict, Forbidden, HiddenRun, NotFound, Unavailable
from symbox.flowhooks.calls import FlowHooks
from symbox.flowhooks.forms import FlowForms, filled_inputs
from symbox.flowhooks.integrations import EnvironmentIntegrations
from symbox.metrics import Metrics
from symbox.notify.model import Outgoing
from symbox.runs.breakglass import BreakGlass
from symbox.runs.decisions import Decisions
from symbox.runs.expiry import DueReport
from symbox.runs.extensions import RunExtensions
from symbox.runs.grant_identities import GrantIdentities
from symbox.runs.grants import Grants, before_step
from symbox.runs.ledger import RunLedger, timer_work
from symbox.runs.locks import KeyedLocks
from symbox.runs.revocations import STRATEGY_BACKLOG, DueRevocations
from symbox.runs.strategy_calls import StrategyCalls
from symbox.sandbox.hooks import HookOutcome, HookRunner
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.store.reader import Reader
from symbox.store.writer import Writer
from symbox.strategies.base import AccessStrategy

P = ParamSpec("P")
R = TypeVar("R")


def _run_logged(
    method: Callable[Concatenate[RunService, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[RunService, P], Coroutine[Any, Any, R]]:
    """Bind the run's id to every log line written while ``method`` runs (hooks included)."""

    @functools.wraps(method)
    async def logged(self: RunService, /, *args: P.args, **kwargs: P.kwargs) -> R:
        run_id = kwargs.get("run_id", args[0] if args else None)
        with logs.bound(run_id=run_id):
            return await method(self, *args, **kwargs)

    return logged


# The channel API requests come through, as flows name it in allowed_sources.
CHANNEL_API = "api"


class RunService:
    """Requests, decisions, grants and revocations; the API, Slack and timers all call it."""

    def __init__(
        self,
        *,
        config: Config,
        writer: Writer,
        reader: Reader,
        clock: Clock,
        strategies: Mapping[str, AccessStrategy],
        schedule: ExpirySchedule,
        metrics: Metrics,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        on_commit: Callable[[float | None], None] = lambda due: None,
        locks: KeyedLocks | None = None,
        hooks: HookRunner | None = None,
        hook_scopes: Mapping[str, IntegrationProvider] | None = None,
        admission: Callable[[], str | None] = lambda: None,
        hook_integrations: Mapping[str, EnvironmentIntegrations] | None = None,
        notifications: Callable[[Run, Sequence[RunEvent]], Sequence[Outgoing]] | None = None,
        revoke_concurrency: int = 64,
        revoke_backlog: int = STRATEGY_BACKLOG,
    ) -> None:
        self._config = config
        self._reader = reader
        self._clock = clock
        self._metrics = metrics
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        # Why new access cannot be granted now (a full audit outbox), or None.
        self._admission = admission
        # Not ``locks or ...``: an idle KeyedLocks is empty, so falsy, and the reconciler
        # would then lock a different set than the grants and revokes it must not race.
        self._locks = KeyedLocks() if locks is None else locks
        self._hooks = (
            None
            if hooks is None
            else FlowHooks(
                hooks,
                config,
                clock,
                self.target,
                scopes=hook_scopes,
                environments=hook_integrations,
            )
        )
        # The hooks shaping request forms; Slack asks them while a form is open.
        self.forms = (
            None
            if hooks is None
            else FlowForms(hooks, config, clock, hook_scopes, hook_integrations)
        )
        self._ledger = RunLedger(
            writer=writer,
            config=config,
            clock=clock,
            schedule=schedule,
            target_of=self.target,
            hooks=self._hooks,
            on_commit=on_commit,
            notifications=notifications,
        )
        self._strategy_calls = StrategyCalls(
            strategies, self.target, clock, metrics, call_limits(config.strategies)
        )
        self._due_revocations = DueRevocations(
            config=config,
            reader=reader,
            ledger=self._ledger,
            calls=self._strategy_calls,
            locks=self._locks,
            clock=clock,
            metrics=metrics,
            policy=self._policy,
            rng=self._rng,
            hooks=self._hooks is not None,
            concurrency=revoke_concurrency,
            backlog=revoke_backlog,
        )
        # Extending escalated runs: the API and Slack call it directly.
        self.extensions = RunExtensions(
            config=config,
            clock=clock,
            ledger=self._ledger,
            hooks=self._hooks,
            get_run=self.get_run,
            view_run=self.view_run,
            admit=self._admit,
        )
        self._identities = GrantIdentities(config, reader, strategies, self._hooks)
        self._grants = Grants(
            config=config,
            clock=clock,
            reader=reader,
            ledger=self._ledger,
            calls=self._strategy_calls,
            locks=self._locks,
            identities=self._identities,
            metrics=metrics,
            policy=self._policy,
            rng=self._rng,
            hooks=self._hooks,
            target_key=self._target_key,
            get_run=self.get_run,
        )
        self._decisions = Decisions(
            config=config,
            clock=clock,
            ledger=self._ledger,
            hooks=self._hooks,
            identities=self._identities,
            metrics=metrics,
            extensions=self.extensions,
            admit=self._admit,
            flow=self.flow,
            target_key=self._target_key,
            get_run=self.get_run,
            find_run=reader.get_run,
            view_run=self.view_run,
            escalate=self._grants.escalate,
        )
        # Self-granted access and its review: the API and Slack call it directly.
        self.break_glass = BreakGlass(
            config=config,
            ledger=self._ledger,
            hooks=self._hooks,
            metrics=metrics,
            now=clock.now,
            target_key=self._target_key,
            get_run=self.get_run,
            view_run=self.view_run,
        )

    @property
    def config(self) -> Config:
        """The configuration runs are checked against."""
        return self._config

    @property
    def clock(self) -> Clock:
        """The clock runs are timed by."""
        return self._clock

    @property
    def locks(self) -> KeyedLocks:
        """The per-grant-key locks every strategy call for a key holds."""
        return self._locks

    # Lookups

    def flow(self, name: str) -> Flow:
        """Return the flow called ``name``, or raise NotFound."""
        flow = self._config.flow_by_name(name)
        if flow is None:
            known = ", ".join(sorted(f.name for f in self._config.flows.values()))
            raise NotFound(f"no flow named {name!r} (flows: {known or 'none'})")
        return flow

    def requestable_flows(self) -> list[tuple[Flow, list[Target]]]:
        """The flows the API may request (``allowed_sources`` has ``api``), with their targets."""
        found = []
        for flow in sorted(self._config.flows.values(), key=lambda item: item.name):
            if CHANNEL_API not in flow.params.allowed_sources:
                continue
            strategy = self._config.strategies.get(flow.params.strategy or "")
            targets = [self._config.targets[key] for key in strategy.targets] if strategy else []
            found.append((flow, targets))
        return found

    def target(self, run: Run) -> Target | None:
        """Return the config's target for ``run``, if it has one."""
        key = self._target_key(run)
        return None if key is None else self._config.targets[key]

    def _target_key(self, run: Run) -> str | None:
        # The run keeps the strategy it was requested under, even if its flow changed since.
        strategy = self._config.strategies.get(run.strategy or "")
        for key in strategy.targets if strategy else ():
            if self._config.targets[key].name == run.target:
                return key
        return None

    async def get_run(self, run_id: str) -> Run:
        """Return a run, or raise NotFound."""
        run = await self._reader.get_run(run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r}")
        return run

    async def view_run(self, run_id: str, actor: Actor) -> Run:
        """Return a run ``actor`` may read; others' runs are NotFound, so ids cannot be probed."""
        run = await self.get_run(run_id)
        flow = self._config.flow_by_name(run.flow)
        if not may_view(flow.vars if flow else {}, run, actor):
            raise HiddenRun(f"no run {run_id!r}")
        return run

    def visibility(self, actor: Actor) -> tuple[str, tuple[str, ...]] | None:
        """What ``actor`` may list: None for everything, else (own email, approved flows)."""
        if actor.kind != "user":
            return None
        flows = tuple(
            sorted(flow.name for flow in self._config.flows.values() if approves(flow.vars, actor))
        )
        return actor.id, flows

    # Commands from people and bots

    async def request(
        self,
        *,
        actor: Actor,
        flow_name: str,
        requester: str | None,
        inputs: Mapping[str, Any],
        channel: str,
        context: Mapping[str, Any] | None = None,
        break_glass: str | None = None,
    ) -> Run:
        """Open a run for ``requester`` (a bot must name one; a user requests for themself).

        ``context`` is kept with the run for hooks (``event.get_context("request")``).
        With a ``break_glass`` reason the requester grants it themself (see BreakGlass).
        """
        try:
            flow = self.flow(flow_name)
        except NotFound as error:
            # Naming a flow that does not exist is bad input to a request, not a missing page.
            raise BadRequest(str(error)) from None
        if channel not in flow.params.allowed_sources:
            raise Forbidden(f"flow {flow.name} does not accept requests from {channel}")
        if break_glass is not None:
            self.break_glass.refuse(flow, actor)
        requester = self._requester(actor, requester)
        self._admit()
        form = None if self.forms is None else await self.forms.submitted(flow, requester, inputs)
        if isinstance(form, str):
            raise BadRequest(f"the request form could not be built: {form}")
        fields = validate_inputs(self._config, flow, filled_inputs(inputs, form), form)
        opened = partial(
            engine.open_request,
            run_id=str(uuid.uuid4()),
            flow=flow,
            requester=requester,
            submitted_by=actor,
            channel=channel,
            fields=fields,
            now=self._clock.now(),
            context=context,
        )
        transition = opened()
        await self._check_identity(transition.run, flow)
        routing: tuple[dict[str, Any], ...] | str = ()
        if self._hooks is not None:
            # Asked before the commit so the request is stored with where it is posted.
            routing = await self._hooks.notifications(transition.run, flow, actor)
            if isinstance(routing, tuple) and routing:
                transition = opened(notifications=routing)
        if break_glass is not None and isinstance(routing, tuple):
            transition = await self.break_glass.grant(transition, flow, actor, break_glass, channel)
        run = await self._ledger.commit_new(
            transition,
            partial(admission.admit, transition.run, flow),
            escalating_inline=break_glass is not None,
        )
        self._metrics.count("symbox_requests_total", "Runs requested.", flow=flow.name)
        if run.review is not None:
            self.break_glass.granted(run)
            return await self.escalate(run.id, known=run)
        if isinstance(routing, str):
            return await self._ledger.fail_for_hook(run, "get_request_notifications", routing)
        outcome = await self._on_request(run, flow, actor)
        if isinstance(outcome, HookOutcome) and outcome.action in ("approve", "deny"):
            return await self.decide(
                actor=Actor.hook("on_request"),
                run_id=run.id,
                approve=outcome.action == "approve",
                reason=outcome.message,
                channel=channel,
            )
        return await self._ledger.fail_for_hook(run, "on_request", outcome)

    async def _check_identity(self, run: Run, flow: Flow) -> None:
        # Refusing here means a requester unknown to the target system never gets a run
        # that would only fail at escalation, after someone approved it.
        _, error = await self._identities.of(run)
        if error is not None:
            raise BadRequest(f"{run.requester} cannot use flow {flow.name}: {error}")

    def _admit(self) -> None:
        refusal = self._admission()
        if refusal is not None:
            raise Unavailable(refusal)

    @staticmethod
    def _requester(actor: Actor, requester: str | None) -> str:
        if actor.kind == "user":
            if requester is not None and not same_person(_person(requester), actor.id):
                raise Forbidden("a user token may only request access for its own user")
            return actor.id
        if requester is None:
            raise BadRequest("user_email: a bot must name the requesting user's email")
        return _person(requester)

    @_run_logged
    async def decide(
        self, *, actor: Actor, run_id: str, approve: bool, reason: str | None, channel: str
    ) -> Run:
        """Approve or deny a requested run (or its waiting extension); see Decisions."""
        return await self._decisions.decide(
            actor=actor, run_id=run_id, approve=approve, reason=reason, channel=channel
        )

    async def may_decide_now(self, run: Run, actor: Actor) -> bool:
        """Tell whether ``actor`` could approve or deny ``run`` (or its extension) now."""
        return await self._decisions.may_decide_now(run, actor)

    @_run_logged
    async def revoke(self, *, actor: Actor, run_id: str, reason: str | None, channel: str) -> Run:
        """End an escalated run's access now; runs ``actor`` may not read are NotFound."""
        # Everyone who may revoke may read the run, so nobody else learns it exists.
        await self.view_run(run_id, actor)
        run = await self._ledger.step(
            run_id,
            lambda current: engine.request_revoke(
                current,
                self.flow(current.flow),
                actor=actor,
                reason=reason,
                now=self._clock.now(),
                channel=channel,
            ),
        )
        return await self.deescalate(run_id, known=run)

    @_run_logged
    async def withdraw(self, *, actor: Actor, run_id: str, reason: str | None, channel: str) -> Run:
        """Take back a request nobody decided yet (its requester, or the bot that sent it)."""
        # Only those who may read a run may learn why they cannot withdraw it.
        await self.view_run(run_id, actor)
        return await self._ledger.step(
            run_id,
            lambda current: engine.withdraw(
                current, actor=actor, reason=reason, now=self._clock.now(), channel=channel
            ),
        )

    # Work symbox does by itself (also called inline after a decision or revoke)

    @_run_logged
    async def escalate(
        self, run_id: str, known: Run | None = None, rule: DecisionRule | None = None
    ) -> Run:
        """Grant an approved run's access, unless that already happened (see Grants)."""
        return await self._grants.escalate(run_id, known, rule)

    @_run_logged
    async def deescalate(self, run_id: str, known: Run | None = None) -> Run:
        """Take a run's access away if that is due, honouring overlapping grants."""
        return await self._grants.deescalate(run_id, known)

    @_run_logged
    async def advance_request(self, run_id: str, known: Run | None = None) -> Run:
        """Move a request nobody decided on: forward it to its next destinations, or expire it."""
        run = known or await self.get_run(run_id)
        now = self._clock.now()
        if _waiting_step(run, now) is None:
            return run
        # One step at a time per run, so its hooks run once even if the timer fires again.
        async with self._locks.hold(f"waiting/{run_id}"):
            run = await self.get_run(run_id)
            step = _waiting_step(run, now)
            if step is None:
                return run
            flow = self._config.flow_by_name(run.flow)
            if flow is not None:
                hook_error = await before_step(self._hooks, run, flow, step)
                await self._ledger.record_hook_error(run, f"on_{step}", hook_error)
            move = engine.forward_request if step == "request_forward" else engine.expire_request
            try:
                return await self._ledger.step(run_id, lambda current: move(current, now))
            except Conflict:
                # Decided while the hook ran: the decision stands.
                return await self.get_run(run_id)

    @_run_logged
    async def process_due(self, run_id: str) -> None:
        """Do whatever a run's due time calls for (the timer's entry point)."""
        run = await self._reader.get_run(run_id)
        if run is None:
            return
        with timer_work():
            if run.status.value == "requested":
                await self.advance_request(run_id, known=run)
            elif run.grant is not None and run.grant.state is GrantState.ESCALATING:
                await self.escalate(run_id, known=run)
            else:
                await self.deescalate(run_id, known=run)

    async def process_due_batch(self, run_ids: Sequence[str]) -> DueReport:
        """Revoke the due grants among ``run_ids`` in groups (the timer's batch entry point);
        the report names the runs left for ``process_due``."""
        return await self._due_revocations(run_ids)

    # Hooks

    async def _on_request(self, run: Run, flow: Flow, actor: Actor) -> HookOutcome | str:
        if self._hooks is None:
            return HookOutcome.CONTINUE
        return await self._hooks.on(run, flow, "request", actor)


def _person(email: str) -> str:
    """The requester named in a request, in the one spelling symbox keeps for them."""
    try:
        return canonical_email(email)
    except InvalidEmail as error:
        raise BadRequest(f"user_email: {error}") from None


def _waiting_step(run: Run, now: float) -> str | None:
    """The step a waiting request is due for at ``now``, if any."""
    if run.status is not RunStatus.REQUESTED:
        return None
    if now >= engine.request_expiry(run):
        return "request_expire"
    routing = engine.routing_due(run)
    if routing is not None and routing[0] == "forward" and now >= routing[1]:
        return "request_forward"
    return None
