"""Reconciliation: what each target system has, against what symbox granted, repaired.

At start and then on a schedule, for every target of a strategy that can list who holds
its access: access symbox granted for a run that is over (left by a crash, or by a revoke
that reported success too early) is removed and audited; access symbox never granted is
reported (audit record and metric), and removed only when the target opts in with
``settings.remove_unmanaged = true``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import anyio

from symbox.audit.entry import system_entry
from symbox.clock import Clock
from symbox.config.model import Config, Target
from symbox.engine.model import Actor, GrantState
from symbox.engine.reconcile import TargetView, plan
from symbox.engine.runs import grant_key
from symbox.metrics import Metrics
from symbox.runs.locks import KeyedLocks
from symbox.store.reader import Reader
from symbox.store.writer import Writer
from symbox.strategies.base import AccessLister, AccessStrategy, IdentityResolver, StrategyError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 600.0
# Identity lookups and removals in flight at once, per target.
CONCURRENCY = 16
# Seconds before a pass that failed as a whole is tried again (doubling, up to the interval).
RETRY_BASE = 5.0
T = TypeVar("T")
REMOVE_UNMANAGED_SETTING = "remove_unmanaged"


@dataclass(frozen=True)
class Finding:
    """One thing reconciliation found (and did) at a target."""

    strategy: str
    target: str
    identity: str
    # stale_removed | unmanaged_found | unmanaged_removed
    outcome: str
    email: str | None = None


class Reconciler:
    """Compares and repairs every listable target, at start and every ``interval``."""

    def __init__(
        self,
        *,
        config: Config,
        strategies: Mapping[str, AccessStrategy],
        reader: Reader,
        writer: Writer,
        clock: Clock,
        metrics: Metrics,
        locks: KeyedLocks,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._config = config
        self._strategies = strategies
        self._reader = reader
        self._writer = writer
        self._clock = clock
        self._metrics = metrics
        self._locks = locks
        self._interval = interval
        # Unmanaged access already reported, so each finding is audited once, not hourly.
        self._reported: dict[tuple[str, str], frozenset[str]] = {}
        # One pass at a time: two would report and remove the same findings twice.
        self._pass = anyio.Lock()

    async def run(self) -> None:
        """Reconcile now and then every interval, until cancelled.

        A pass that fails as a whole is tried again sooner, with backoff up to the
        interval: reconciliation is a safety net and never stops symbox.
        """
        failures = 0
        while True:
            try:
                await self.reconcile()
            except Exception:
                failures += 1
                self._count("error")
                log.exception("reconciliation pass failed", extra={"failures": failures})
                await anyio.sleep(min(self._interval, RETRY_BASE * 2 ** (failures - 1)))
                continue
            failures = 0
            await anyio.sleep(self._interval)

    async def reconcile(self) -> list[Finding]:
        """One pass over every target; returns what it found."""
        findings: list[Finding] = []
        async with self._pass:
            for strategy_key, strategy in sorted(self._strategies.items()):
                if not isinstance(strategy, AccessLister):
                    continue
                if strategy_key not in self._config.strategies:
                    continue
                for target_key in self._config.strategies[strategy_key].targets:
                    try:
                        findings += await self._target(strategy_key, strategy, target_key)
                    except Exception as error:
                        # One target's failure (a StrategyError, or a client library's
                        # own, such as botocore's KeyError on a reply it cannot parse)
                        # leaves the other targets, and symbox, to carry on.
                        self._count("error")
                        log.error(
                            "reconciling a target failed",
                            exc_info=not isinstance(error, StrategyError),
                            extra={
                                "strategy": strategy_key,
                                "target": target_key,
                                "error": f"{type(error).__name__}: {error}"
                                if not isinstance(error, StrategyError)
                                else str(error),
                            },
                        )
        return findings

    async def _target(
        self, strategy_key: str, strategy: AccessLister, target_key: str
    ) -> list[Finding]:
        target = self._config.targets[target_key]
        holders = await strategy.holders(target)
        # Read after listing: a grant made in between is not among the holders anyway.
        # By identity granted to (recorded on each grant since it was made; for older
        # grants, looked up): whose it is, and the states of its grants.
        rows = await self._reader.grants_at(grant_key(strategy_key, target_key, ""))
        unrecorded = {email for email, _, identity in rows if identity is None}
        looked_up = await _concurrently(
            {email: partial(_identity, strategy, email) for email in unrecorded}
        )
        by_identity: dict[str, tuple[str, set[str]]] = {}
        unknown = False
        for email, state, recorded in rows:
            identity = recorded if recorded is not None else looked_up[email]
            if identity is None:
                unknown = unknown or state != GrantState.REVOKED.value
                continue
            # Case-insensitive: IAM user names and GitHub logins are, whatever case is stored.
            by_identity.setdefault(identity.casefold(), (email, set()))[1].add(state)
        ended = {
            key: email
            for key, (email, seen) in by_identity.items()
            if seen == {GrantState.REVOKED.value}
        }
        managed = {key: email for key, (email, _) in by_identity.items() if key not in ended}
        named = {holder.casefold(): holder for holder in holders}
        decided = plan(TargetView(frozenset(named), managed, ended))
        removals = await _concurrently(
            {
                key: partial(
                    self._remove_stale,
                    strategy_key,
                    strategy,
                    target_key,
                    target,
                    named[key],
                    email,
                )
                for key, email in decided.stale
            }
        )
        findings: list[Finding] = [
            found for key, _ in decided.stale if (found := removals[key]) is not None
        ]
        # Without every managed identity known, unmanaged access may be symbox's own.
        remove = target.settings.get(REMOVE_UNMANAGED_SETTING) is True and not unknown
        reported = self._reported.get((strategy_key, target_key), frozenset())
        for identity in (named[key] for key in decided.unmanaged):
            if remove:
                await strategy.remove_holder(target, identity)
                findings.append(Finding(strategy_key, target.name, identity, "unmanaged_removed"))
            elif identity not in reported:
                findings.append(Finding(strategy_key, target.name, identity, "unmanaged_found"))
        self._reported[(strategy_key, target_key)] = (
            frozenset() if remove else frozenset(named[key] for key in decided.unmanaged)
        )
        for finding in findings:
            await self._record(finding)
        return findings

    async def _remove_stale(
        self,
        strategy_key: str,
        strategy: AccessLister,
        target_key: str,
        target: Target,
        identity: str,
        email: str,
    ) -> Finding | None:
        # Grants are keyed by the identity they were made to: a run of the same requester
        # granting another identity (after a re-mapping) does not cover this one.
        key = grant_key(strategy_key, target_key, identity)
        # The service escalates under the same lock, so a new grant cannot slip in between.
        async with self._locks.hold(key):
            if await self._reader.covering_grant(key) is not None:
                return None  # granted again since the listing: it is not stale
            await strategy.remove_holder(target, identity)
        return Finding(strategy_key, target.name, identity, "stale_removed", email)

    async def _record(self, finding: Finding) -> None:
        self._count(finding.outcome)
        level = logging.INFO if finding.outcome == "stale_removed" else logging.WARNING
        log.log(
            level,
            "reconciliation: %s",
            finding.outcome.replace("_", " "),
            extra={"strategy": finding.strategy, "target": finding.target},
        )
        entry = system_entry(
            "reconcile",
            finding.outcome,
            actor=Actor.system(),
            at=self._clock.now(),
            channel="system",
            fields={
                "strategy": finding.strategy,
                "target": finding.target,
                "identity": finding.identity,
                "requester": finding.email,
            },
        )
        await self._writer.submit(lambda txn: txn.append_audit(entry))

    def _count(self, outcome: str) -> None:
        self._metrics.count(
            "symbox_reconcile_total", "Reconciliation findings and failures.", outcome=outcome
        )

    def unmanaged(self) -> dict[tuple[str, str], int]:
        """How many identities hold unmanaged access, by (strategy, target), as last seen."""
        return {key: len(found) for key, found in self._reported.items()}


async def _concurrently(calls: Mapping[str, Callable[[], Awaitable[T]]]) -> dict[str, T]:
    """Run ``calls`` a few at a time (each is a round trip to the target system)."""
    results: dict[str, T] = {}
    limiter = anyio.CapacityLimiter(CONCURRENCY)

    async def one(key: str, call: Callable[[], Awaitable[T]]) -> None:
        async with limiter:
            results[key] = await call()

    async with anyio.create_task_group() as group:
        for key, call in calls.items():
            group.start_soon(one, key, call)
    return results


async def _identity(strategy: AccessLister, email: str) -> str | None:
    if not isinstance(strategy, IdentityResolver):
        return email
    try:
        return await strategy.remote_identity(email)
    except StrategyError:
        return None
    except Exception:
        log.exception("looking up an identity for reconciliation failed")
        return None
