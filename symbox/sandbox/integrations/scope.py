"""`CallScope`: what one hook or strategy call may reach: its HTTP allow-list and its secrets."""

from __future__ import annotations

from collections.abc import Mapping
from secrets import token_urlsafe
from typing import Any, Protocol

from symbox.aws.secrets import SecretUnavailable
from symbox.config.model import Secret
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.pool import DEFAULT_SCOPE
from symbox.sandbox.sdk.exceptions import (
    AccessStrategyError,
    HTTPRefusedError,
    SymException,
    TemplateError,
)
from symbox.sandbox.sdk.http import HTTP_INTEGRATION
from symbox.sandbox.sdk.strategies import SECRET_KEY, SECRETS_INTEGRATION
from symbox.sandbox.sdk.templates import STEP_NAMES, TEMPLATES_INTEGRATION

REDACTED = "<redacted>"
# Handle ids are random per call: 24 bytes cannot be guessed from inside a worker.
_ID_BYTES = 24


def environment_scope(name: str) -> str:
    """The pool scope of a flow's hooks: its environment's integrations and allowed hosts."""
    return f"environment {name}"


def integration_scope(name: str) -> str:
    """The pool scope of a custom strategy: its integration's secrets and allowed hosts."""
    return f"integration {name}"


def scope_name(provider: IntegrationProvider | None) -> str:
    """The pool scope of a call answered by ``provider``."""
    return provider.name if isinstance(provider, CallScope) else DEFAULT_SCOPE


class StoredSecret(Protocol):
    """A secret kept outside the config (AWS Secrets Manager), read when a hook asks."""

    @property
    def label(self) -> str:
        """What the handle shows: where the secret is, never its value."""
        ...

    async def value(self) -> str:
        """The secret's value, or SecretUnavailable."""
        ...


class SecretVault:
    """The secrets one call may resolve; the worker only ever holds this call's handle ids.

    Secrets are configured by path (``settings.api_token``); each vault gives every path an
    unguessable id of its own, so a handle is bound to its integration and to the call that
    was given it: an id kept by code from another call, or guessed, resolves to nothing.
    """

    def __init__(self, secrets: Mapping[str, Secret | StoredSecret]) -> None:
        self._ids = {path: token_urlsafe(_ID_BYTES) for path in secrets}
        self._secrets = {self._ids[path]: secret for path, secret in secrets.items()}
        self._open = True
        # Values read from a store during this call, so errors can be scrubbed of them.
        self._fetched: list[str] = []

    def bind(self, view: Any) -> Any:
        """``view`` with each secret handle's path replaced by this call's id for it."""
        if isinstance(view, Mapping):
            marker = view.get(SECRET_KEY)
            if isinstance(marker, Mapping) and marker.get("id") in self._ids:
                return {SECRET_KEY: {**marker, "id": self._ids[marker["id"]]}}
            return {key: self.bind(item) for key, item in view.items()}
        if isinstance(view, list | tuple):
            return [self.bind(item) for item in view]
        return view

    def close(self) -> None:
        """Refuse every later look-up: the call this vault served is over."""
        self._open = False

    async def retrieve(self, args: dict[str, Any]) -> str:
        """The value of the secret ``args["id"]`` names, if this call may have it."""
        handle = args.get("id")
        secret = self._secrets.get(handle) if isinstance(handle, str) and self._open else None
        if secret is None:
            raise AccessStrategyError("that secret is not one of this integration's settings")
        if isinstance(secret, Secret):
            return secret.reveal()
        try:
            value = await secret.value()
        except SecretUnavailable as error:
            raise AccessStrategyError(str(error)) from None
        self._fetched.append(value)
        return value

    def scrub(self, text: str) -> str:
        """``text`` with every value this vault holds replaced (a hook may echo one in an error)."""
        values = [
            secret.reveal() for secret in self._secrets.values() if isinstance(secret, Secret)
        ]
        for value in [*values, *self._fetched]:
            if value:
                text = text.replace(value, REDACTED)
        return text


class StepOutputs:
    """What a run's steps answered, for ``get_step_output``, and the step a call is for."""

    def __init__(self, outputs: Mapping[str, Any], step: str) -> None:
        self._outputs = outputs
        self._step = step

    def get(self, args: dict[str, Any]) -> Any:
        """The output of ``args["step"]`` (this call's step if None); {} if it has none."""
        step = args.get("step")
        step = self._step if step is None else step
        if step not in STEP_NAMES:
            raise TemplateError(f"get_step_output: there is no step {step!r}")
        value = self._outputs.get(step)
        # As Sym's: a dict, empty while the step has not run or answered nothing.
        return {} if value is None else value


class CallScope:
    """An IntegrationProvider for one call: its own HTTP gateway and secrets, else ``base``.

    ``name`` is the scope's identity for the worker pool: calls of different names never
    share a worker process (see symbox.sandbox.pool).
    """

    def __init__(
        self,
        base: IntegrationProvider | None = None,
        *,
        http: HttpGateway | None = None,
        secrets: SecretVault | None = None,
        name: str = DEFAULT_SCOPE,
        outputs: StepOutputs | None = None,
    ) -> None:
        self._base = base
        self.http = http
        self.secrets = secrets
        self.name = name
        self.outputs = outputs

    def with_outputs(self, outputs: StepOutputs) -> CallScope:
        """This scope for one call of a run's step: the same reach, plus its step outputs."""
        return CallScope(
            self._base, http=self.http, secrets=self.secrets, name=self.name, outputs=outputs
        )

    @property
    def reached_out(self) -> bool:
        """Whether the call sent any HTTP request (so may have changed something)."""
        return self.http is not None and self.http.requests_made > 0

    async def call(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        """Route ``http``, ``secrets`` and step outputs here; other integrations to ``base``."""
        if integration == HTTP_INTEGRATION:
            if self.http is None:
                raise HTTPRefusedError("outbound HTTP is not configured for this hook")
            return await self.http.call(method, args)
        if integration == SECRETS_INTEGRATION:
            if self.secrets is None or method != "retrieve":
                raise AccessStrategyError("no secrets are available here")
            return await self.secrets.retrieve(args)
        if integration == TEMPLATES_INTEGRATION:
            if self.outputs is None or method != "get_step_output":
                raise TemplateError("get_step_output is only available in a run's hooks")
            return self.outputs.get(args)
        if self._base is None:
            raise SymException(f"no {integration} integration is configured")
        return await self._base.call(integration, method, args)
