"""Approving and denying a request: who may, what the flow's hooks make of it, then the grant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from symbox.clock import Clock
from symbox.config.model import Config, Flow
from symbox.engine import runs as engine
from symbox.engine.model import Actor, GrantState, Run, RunStatus
from symbox.engine.permissions import DecisionRule, may_decide
from symbox.engine.quorum import already_approved
from symbox.errors import Conflict, Forbidden, NotFound
from symbox.flowhooks.calls import FlowHooks
from symbox.metrics import Metrics
from symbox.runs.extensions import RunExtensions, waiting
from symbox.runs.grant_identities import GrantIdentities
from symbox.runs.ledger import RunLedger
from symbox.sandbox.hooks import HookOutcome


class Decisions:
    """Approvals and denials of requests (and, while one waits, of extensions)."""

    def __init__(
        self,
        *,
        config: Config,
        clock: Clock,
        ledger: RunLedger,
        hooks: FlowHooks | None,
        identities: GrantIdentities,
        metrics: Metrics,
        extensions: RunExtensions,
        admit: Callable[[], None],
        flow: Callable[[str], Flow],
        target_key: Callable[[Run], str | None],
        get_run: Callable[[str], Awaitable[Run]],
        find_run: Callable[[str], Awaitable[Run | None]],
        view_run: Callable[[str, Actor], Awaitable[Run]],
        escalate: Callable[[str, Run | None, DecisionRule | None], Awaitable[Run]],
    ) -> None:
        self._config = config
        self._clock = clock
        self._ledger = ledger
        self._hooks = hooks
        self._identities = identities
        self._metrics = metrics
        self._extensions = extensions
        self._admit = admit
        self._flow = flow
        self._target_key = target_key
        self._get_run = get_run
        self._find_run = find_run
        self._view_run = view_run
        self._escalate = escalate

    async def decide(
        self, *, actor: Actor, run_id: str, approve: bool, reason: str | None, channel: str
    ) -> Run:
        """Approve or deny a requested run; an approval escalates at once.

        The flow's ``on_approve`` / ``on_deny`` hook runs first, once the actor is known
        to be allowed; it may ignore the decision, or turn an approval into a denial. On an
        escalated run with an extension waiting, the decision is about the extension.
        """
        known = await self._find_run(run_id)
        if known is not None and waiting(known):
            return await self._extensions.decide(
                actor=actor, run_id=run_id, approve=approve, reason=reason, channel=channel
            )
        if approve:
            self._admit()
        rule: DecisionRule | None = None
        if self._hooks is not None and actor.kind != "hook":
            redirected = await self._redirect_decision(self._hooks, run_id, actor, approve)
            if isinstance(redirected, Run):
                return redirected
            approve, hook_reason, rule = redirected
            reason = hook_reason or reason
        if approve:
            await self._identities.refuse_own_grant(run_id, actor, rule)

        def step(current: Run) -> engine.Transition:
            flow = self._flow(current.flow)
            target_key = self._target_key(current)
            if current.strategy is not None and target_key is None:
                raise Conflict(f"target {current.target} of run {run_id} is no longer configured")
            return engine.decide(
                current,
                flow,
                actor=actor,
                approve=approve,
                reason=reason,
                now=self._clock.now(),
                channel=channel,
                target_key=target_key,
                rule=rule,
            )

        try:
            run = await self._ledger.step(run_id, step, escalating_inline=True)
        except (Conflict, Forbidden, NotFound):
            if rule is None:
                # No rule admitted this caller: a run they may not read does not exist
                # for them, as GET answers, so a refusal cannot confirm a run id.
                await self._view_run(run_id, actor)
            raise
        self._metrics.count(
            "symbox_decisions_total",
            "Approvals and denials.",
            flow=run.flow,
            decision="approve" if approve else "deny",
        )
        if run.grant is not None and run.grant.state is GrantState.ESCALATING:
            run = await self._escalate(run_id, run, rule)
        return run

    async def may_decide_now(self, run: Run, actor: Actor) -> bool:
        """Tell whether ``actor`` could approve or deny ``run`` (or its extension) now.

        Asked as ``decide`` asks it: the same rule, from the flow's vars or hooks.
        """
        flow = self._config.flow_by_name(run.flow)
        now = self._clock.now()
        if flow is None:
            return False
        if run.status is RunStatus.REQUESTED:
            # Whoever already approved has nothing left to decide until the others do.
            if now >= run.request_expires_at or already_approved(run, actor):
                return False
        elif not waiting(run) or run.grant is None or run.grant.state is not GrantState.ACTIVE:
            return False
        elif run.grant.expires_at is not None and now >= run.grant.expires_at:
            # An extension is decidable only while its grant still runs.
            return False
        if self._hooks is None:
            rule: DecisionRule | str = DecisionRule.from_vars(flow.vars)
        else:
            rule = await self._hooks.decision_rule(run, flow, actor)
        # A failing get_permissions hook admits nobody (a decision would error the run).
        return isinstance(rule, DecisionRule) and may_decide(rule, run, actor) is None

    async def _redirect_decision(
        self, hooks: FlowHooks, run_id: str, actor: Actor, approve: bool
    ) -> Run | tuple[bool, str | None, DecisionRule | None]:
        """Ask the flow's hooks: who may decide, then on_approve / on_deny.

        Returns the decision to make with the rule to check it by, or the run if a hook
        failed (and errored it).
        """
        run = await self._get_run(run_id)
        flow = self._config.flow_by_name(run.flow)
        if flow is None or run.status is not RunStatus.REQUESTED:
            return approve, None, None  # the engine step answers with the conflict
        rule = await hooks.decision_rule(run, flow, actor)
        if not isinstance(rule, DecisionRule):
            failed = await self._ledger.fail_for_hook(run, "get_permissions", rule)
            await self._view_run(run_id, actor)
            return failed
        refusal = may_decide(rule, run, actor)
        if refusal is not None:
            await self._view_run(run_id, actor)
            raise Forbidden(refusal)
        step = "approve" if approve else "deny"
        outcome = await hooks.on(run, flow, step, actor)
        if not isinstance(outcome, HookOutcome):
            return await self._ledger.fail_for_hook(run, f"on_{step}", outcome)
        if outcome.action == "ignore":
            raise Forbidden(outcome.message or f"the flow's on_{step} hook ignored this decision")
        if outcome.action == "continue":
            return approve, None, rule
        return outcome.action == "approve", outcome.message, rule
