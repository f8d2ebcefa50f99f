"""`CallScope`: what one hook or strategy call may reach: its HTTP allow-list and its secrets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from symbox.config.model import Secret
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.sdk.exceptions import AccessStrategyError, HTTPRefusedError, SymException
from symbox.sandbox.sdk.http import HTTP_INTEGRATION
from symbox.sandbox.sdk.strategies import SECRETS_INTEGRATION

REDACTED = "<redacted>"


class StoredSecret(Protocol):
    """A secret kept outside the config (AWS Secrets Manager), read when a hook asks."""

    @property
    def label(self) -> str:
        """What the handle shows: where the secret is, never its value."""
        ...

    async def value(self) -> str:
        """The secret's value, or an AccessStrategyError."""
        ...


class SecretVault:
    """The secrets a call may resolve, by handle id; the worker only holds the ids."""

    def __init__(self, secrets: Mapping[str, Secret | StoredSecret]) -> None:
        self._secrets = dict(secrets)
        # Values read from a store during this call, so errors can be scrubbed of them.
        self._fetched: list[str] = []

    async def retrieve(self, args: dict[str, Any]) -> str:
        """The value of the secret ``args["id"]`` names, if this call may have it."""
        handle = args.get("id")
        secret = self._secrets.get(handle) if isinstance(handle, str) else None
        if secret is None:
            raise AccessStrategyError("that secret is not one of this integration's settings")
        if isinstance(secret, Secret):
            return secret.reveal()
        value = await secret.value()
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


class CallScope:
    """An IntegrationProvider for one call: its own HTTP gateway and secrets, else ``base``."""

    def __init__(
        self,
        base: IntegrationProvider | None = None,
        *,
        http: HttpGateway | None = None,
        secrets: SecretVault | None = None,
    ) -> None:
        self._base = base
        self.http = http
        self.secrets = secrets

    @property
    def reached_out(self) -> bool:
        """Whether the call sent any HTTP request (so may have changed something)."""
        return self.http is not None and self.http.requests_made > 0

    async def call(self, integration: str, method: str, args: dict[str, Any]) -> Any:
        """Route ``http`` and ``secrets`` here, every other integration to ``base``."""
        if integration == HTTP_INTEGRATION:
            if self.http is None:
                raise HTTPRefusedError("outbound HTTP is not configured for this hook")
            return await self.http.call(method, args)
        if integration == SECRETS_INTEGRATION:
            if self.secrets is None or method != "retrieve":
                raise AccessStrategyError("no secrets are available here")
            return await self.secrets.retrieve(args)
        if self._base is None:
            raise SymException(f"no {integration} integration is configured")
        return await self._base.call(integration, method, args)
