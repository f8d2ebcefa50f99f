"""Who a run's grant goes to in its target system, and whether that is its own approver."""

from __future__ import annotations

from collections.abc import Mapping

from symbox.config.model import Config
from symbox.engine.model import Actor, Run, RunStatus
from symbox.engine.permissions import DecisionRule, may_decide
from symbox.errors import Forbidden, Unavailable
from symbox.flowhooks.calls import FlowHooks
from symbox.store.reader import Reader
from symbox.strategies.base import AccessStrategy, IdentityResolver, StrategyError

# The API's error code when an approval waits for the target system to name identities.
IDENTITY_UNVERIFIED = "identity_unverified"


class GrantIdentities:
    """Looks identities up through the run's strategy (and the flow's get_identity hook)."""

    def __init__(
        self,
        config: Config,
        reader: Reader,
        strategies: Mapping[str, AccessStrategy],
        hooks: FlowHooks | None,
    ) -> None:
        self._config = config
        self._reader = reader
        self._strategies = strategies
        self._hooks = hooks
        # Asked for every approval; a runtime Protocol check is slow, so it is made once.
        self._resolvers = {
            name: strategy
            for name, strategy in strategies.items()
            if isinstance(strategy, IdentityResolver)
        }

    def resolver(self, run: Run) -> IdentityResolver | None:
        """The run's strategy if it names identities in its system, else None."""
        return self._resolvers.get(run.strategy or "")

    async def of(self, run: Run) -> tuple[str | None, StrategyError | None]:
        """The requester's identity at the run's target system: (identity, error).

        Resolved once, just before the grant, and kept on the grant so the revoke removes
        exactly what was granted even if the mapping changes meanwhile.
        """
        strategy = self.resolver(run)
        if strategy is None:
            return None, None
        name: str | None = None
        flow = self._config.flow_by_name(run.flow)
        if self._hooks is not None and flow is not None:
            # The flow's get_identity reducer, if it has one, names the requester there.
            name, failure = await self._hooks.identity(run, flow)
            if failure is not None:
                # Permanent for the self-approval check: the grant fails on it too, and
                # should the reducer name someone by then, binding compares that identity.
                error = StrategyError(
                    f"get_identity: {failure}", permanent=True, reached_target=False
                )
                return None, error
        try:
            if name is None:
                return await strategy.remote_identity(run.requester), None
            return await strategy.remote_identity(run.requester, name), None
        except StrategyError as error:
            return None, error

    async def approvers_own(
        self, run: Run, strategy: IdentityResolver, identity: str, rule: DecisionRule | None
    ) -> str | None:
        """Why ``identity`` may not be granted for ``run``'s approval, or None.

        The approval was checked against the identity looked up then; this is the one
        actually granted, so a lookup that failed then, or a re-mapping since, cannot
        hand the approver their own access.
        """
        decision = run.decision
        flow = self._config.flow_by_name(run.flow)
        if decision is None or flow is None or decision.actor.kind != "user":
            return None
        if run.review is not None:
            # Break-glass: the requester grants themself on purpose, and is reviewed for it.
            return None
        # Without the approval's own rule (the timer finishing a crashed approval), the
        # flow's vars say; a get_permissions hook allowing self-approval is not asked again.
        if (rule or DecisionRule.from_vars(flow.vars)).allow_self_approval:
            return None
        approver = decision.actor.id
        own, failure = await own_identity(strategy, approver)
        if failure is not None:
            return f"cannot verify that the grant is not {approver}'s own identity: {failure}"
        if own is not None and own.casefold() == identity.casefold():
            return (
                f"the grant would go to {approver}'s own identity in the target system;"
                " requesters may not decide their own request in this flow"
            )
        return None

    async def refuse_own_grant(self, run_id: str, actor: Actor, rule: DecisionRule | None) -> None:
        """Refuse an approval whose grant would go to the approver's own identity.

        The strategy grants to the requester's identity in its system (``symbox users``, a
        ``get_identity`` hook): an approver who is that identity there is approving their
        own access, whatever the request's email says.
        """
        run = await self._reader.get_run(run_id)
        flow = None if run is None else self._config.flow_by_name(run.flow)
        if run is None or flow is None or actor.kind != "user":
            return
        strategy = self.resolver(run)
        rule = rule or DecisionRule.from_vars(flow.vars)
        if strategy is None or rule.allow_self_approval:
            return
        if run.status is not RunStatus.REQUESTED or may_decide(rule, run, actor) is not None:
            return  # the engine step refuses it, without asking the target system
        granted, failure = await self.of(run)
        if granted is None:
            if failure is not None and not failure.permanent:
                raise Unavailable(unverified(actor, failure), code=IDENTITY_UNVERIFIED)
            # No identity, no grant; should one appear by the grant, binding compares it.
            return
        own, failure = await own_identity(strategy, actor.id)
        if failure is not None:
            raise Unavailable(unverified(actor, failure), code=IDENTITY_UNVERIFIED)
        if own is not None and own.casefold() == granted.casefold():
            raise Forbidden(
                f"this request's access would be granted to {actor.id}'s own identity in"
                " the target system; requesters may not decide their own request in this flow"
            )


async def own_identity(
    strategy: IdentityResolver, approver: str
) -> tuple[str | None, StrategyError | None]:
    """The approver's identity in the strategy's system, or None, or why it is unknown now."""
    try:
        return await strategy.remote_identity(approver), None
    except StrategyError as error:
        if error.permanent:
            return None, None  # no identity there, so no grant can be theirs
        return None, error


def unverified(actor: Actor, failure: StrategyError) -> str:
    """Why an approval waits: the target system could not say whose identity is whose."""
    return (
        f"cannot verify identity: whether this grant would go to {actor.id}'s own identity"
        f" in the target system is unknown for now ({failure}); approve again shortly"
    )
