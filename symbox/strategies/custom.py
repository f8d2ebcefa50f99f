"""The ``custom`` strategy: a Sym-style ``AccessStrategy`` subclass run in the hook sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from symbox.audit.entry import redact
from symbox.config.durations import iso
from symbox.config.hosts import AllowList
from symbox.config.model import Config, Integration, Strategy
from symbox.sandbox.errors import HookCompileError, HookFailure
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.integrations.scope import (
    CallScope,
    SecretVault,
    StepOutputs,
    StoredSecret,
    integration_scope,
)
from symbox.sandbox.integrations.views import integration_view
from symbox.sandbox.pool import HookPool
from symbox.sandbox.views import user_view
from symbox.strategies.base import GrantRequest, StrategyError
from symbox.strategies.custom_source import StrategySource, implementation_file, read_strategy

# How much of a bad return value an error message quotes.
_QUOTE_LIMIT = 80


def grant_event(step: str, request: GrantRequest, config: Config) -> dict[str, Any]:
    """The event ``escalate``/``deescalate`` receive; secrets in settings are redacted."""
    target = request.target
    fields: dict[str, Any] = dict(redact(dict(request.fields)))
    fields["target"] = {
        "name": target.name,
        "label": target.label,
        "type": target.type,
        "settings": redact(target.settings),
    }
    flow = config.flow_by_name(request.flow)
    environment = config.environments.get(flow.environment) if flow else None
    requester = user_view(request.requester)
    return {
        "name": step,
        "user": requester,
        "payload": {"fields": fields, "timestamp": iso(request.at)},
        "flow": {
            "name": request.flow,
            "vars": dict(flow.vars) if flow else {},
            "environment": {
                "name": environment.name if environment else None,
                "integrations": dict(environment.integrations) if environment else {},
            },
        },
        "run": {"id": request.run_id, "actors": {"request": requester}},
        "context": {},
    }


def _scrubbed(value: Any, vault: SecretVault) -> Any:
    """``value`` with every secret the call held replaced in its strings (keys too)."""
    if isinstance(value, str):
        return vault.scrub(value)
    if isinstance(value, dict):
        return {_scrubbed(key, vault): _scrubbed(item, vault) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, vault) for item in value]
    return value


class CustomStrategy:
    """Runs the implementation's ``escalate``, ``deescalate`` and ``fetch_remote_identity``.

    Each call runs in a hook worker with a scope of its own: HTTP to the integration's
    ``allowed_hosts`` and the integration's secrets, resolved by the host when asked.
    """

    def __init__(
        self,
        strategy: Strategy,
        integration: Integration,
        source: StrategySource,
        *,
        config: Config,
        pool: HookPool,
        client: httpx.AsyncClient,
        base: IntegrationProvider | None = None,
        timeout: float = 10.0,
        stored: Callable[[str], StoredSecret] | None = None,
    ) -> None:
        self._implementation = strategy.implementation or ""
        self._filename = implementation_file(strategy)
        self._source = source
        self._config = config
        self._pool = pool
        self._client = client
        self._base = base
        self._timeout = timeout
        self._integration, self._secrets = integration_view(integration, stored)
        self._name = strategy.name
        # Custom strategies' calls are scoped by the integration whose secrets they hold.
        self._scope = integration_scope(integration.name)
        hosts = integration.settings.get("allowed_hosts") or ()
        self._allowed = AllowList.parse(str(host) for host in hosts)

    async def escalate(self, request: GrantRequest) -> Any:
        """Run the implementation's ``escalate(target_id, event)``; the dict it returns."""
        return await self._grant("escalate", request)

    async def deescalate(self, request: GrantRequest) -> Any:
        """Run the implementation's ``deescalate(target_id, event)``; the dict it returns."""
        return await self._grant("deescalate", request)

    async def remote_identity(self, requester: str, name: str | None = None) -> str:
        """``fetch_remote_identity(user)``; None is refused only if the strategy needs one.

        A ``name`` from the flow's ``get_identity`` reducer is the identity itself.
        """
        if name is not None:
            return name
        spec = {"method": "fetch_remote_identity", "user": user_view(requester)}
        value, scope = await self._call(spec)
        if value is None and not self._source.uses_identity:
            # The implementation never asks for the identity, so there is nothing to refuse.
            return requester
        if value is None or value == "":
            raise StrategyError(
                f"{self._where('fetch_remote_identity')}: no identity for {requester}",
                permanent=True,
                reached_target=False,
            )
        if not isinstance(value, str):
            raise self._bad_return("fetch_remote_identity", value, "a str or None", scope)
        return value

    async def _grant(self, step: str, request: GrantRequest) -> Any:
        spec = {
            "method": step,
            "target_id": request.target.name,
            "event": grant_event(step, request, self._config),
        }
        value, scope = await self._call(spec, StepOutputs(request.outputs, step))
        # As in Sym, what escalate returns is its step's output, which deescalate can read
        # with get_step_output(ApprovalTemplateStep.ESCALATE).
        if value is not None and not isinstance(value, dict):
            raise self._bad_return(step, value, "None or a dict", scope)
        # The output is kept with the run: a secret the strategy read must not be kept in it.
        return _scrubbed(value, scope.secrets) if scope.secrets is not None else value

    async def _call(
        self, spec: dict[str, Any], outputs: StepOutputs | None = None
    ) -> tuple[Any, CallScope]:
        method = str(spec["method"])
        vault = SecretVault(self._secrets)
        gateway = HttpGateway(self._client, self._allowed, max_timeout=self._timeout)
        scope = CallScope(
            self._base, http=gateway, secrets=vault, name=self._scope, outputs=outputs
        )
        try:
            value = await self._pool.call_strategy(
                self._implementation,
                self._filename,
                {**spec, "integration": vault.bind(self._integration)},
                self._timeout,
                integrations=scope,
                scope=self._scope,
                owner=f"strategy {self._name}",
            )
        except HookCompileError as error:
            raise StrategyError(str(error), permanent=True, reached_target=False) from None
        except HookFailure as error:
            # A timeout or a crash has no line of its own: name the method that was running.
            text = str(error)
            if error.line is None:
                text = f"{self._where(method)}: {error.detail}"
            # A hook may put a secret it retrieved into its error; the run's error is audited.
            raise StrategyError(vault.scrub(text), reached_target=scope.reached_out) from None
        finally:
            vault.close()
        return value, scope

    def _where(self, method: str) -> str:
        line = self._source.methods.get(method, self._source.line)
        return f"{self._filename}:{line}"

    def _bad_return(
        self, method: str, value: object, expected: str, scope: CallScope
    ) -> StrategyError:
        shown = repr(value)
        if len(shown) > _QUOTE_LIMIT:
            shown = shown[: _QUOTE_LIMIT - 3] + "..."
        if scope.secrets is not None:
            shown = scope.secrets.scrub(shown)
        return StrategyError(
            f"{self._where(method)}: {method} returned {shown}; expected {expected}",
            permanent=True,
            reached_target=scope.reached_out,
        )


class CustomStrategies:
    """What custom strategies run with: the worker pool, the outbound client, other integrations."""

    def __init__(
        self,
        config: Config,
        pool: HookPool,
        client: httpx.AsyncClient,
        *,
        base: IntegrationProvider | None = None,
        timeout: float = 10.0,
        stored: Callable[[str], StoredSecret] | None = None,
    ) -> None:
        self._config = config
        self._pool = pool
        self._client = client
        self._base = base
        self._timeout = timeout
        self._stored = stored

    def build(self, strategy: Strategy) -> CustomStrategy:
        """The strategy object for one validated ``custom`` sym_strategy.

        Raises StrategySourceError (file:line) if its implementation cannot run.
        """
        integration = self._config.integrations[strategy.integration or ""]
        source = read_strategy(strategy.implementation or "", implementation_file(strategy))
        return CustomStrategy(
            strategy,
            integration,
            source,
            config=self._config,
            pool=self._pool,
            client=self._client,
            base=self._base,
            timeout=self._timeout,
            stored=self._stored,
        )


def uses_custom_strategies(config: Config) -> bool:
    """Tell whether some flow's strategy is a custom one (so hook workers are needed)."""
    return any(strategy.type == "custom" for strategy in config.strategies.values())
