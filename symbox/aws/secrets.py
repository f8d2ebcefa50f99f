"""``sym_secret`` values from AWS Secrets Manager, fetched by the host when a hook asks.

A custom integration lists its secrets as Sym does (``secret_ids_json``); the worker gets
handles, and ``retrieve_value()`` comes here. Values are cached for a few minutes, so a
rotation in Secrets Manager reaches symbox without a restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from symbox.aws.errors import AwsCallError, call
from symbox.aws.session import AwsConnection, AwsConnections
from symbox.aws.settings import ConnectionSettings
from symbox.config.model import Config, SecretRef

# How long a fetched value is reused before Secrets Manager is asked again.
CACHE_SECONDS = 300.0


class SecretUnavailable(Exception):
    """A ``sym_secret`` could not be read; the message names the secret, never a value."""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class StoredSecret:
    """One ``sym_secret``, resolved on demand."""

    def __init__(self, store: SecretsManagerSecrets, ref: SecretRef) -> None:
        self._store = store
        self.ref = ref

    @property
    def label(self) -> str:
        """What the handle shows hooks: the secret's path, never its value."""
        return self.ref.path

    async def value(self) -> str:
        """The secret's current value (SecretUnavailable if it cannot be read)."""
        return await self._store.value(self.ref)


class SecretsManagerSecrets:
    """Reads ``sym_secret`` values from each ``sym_secrets`` source's Secrets Manager."""

    def __init__(
        self, config: Config, connections: AwsConnections, monotonic: Callable[[], float]
    ) -> None:
        self._config = config
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, str]] = {}
        self._connections: dict[str, AwsConnection] = {}
        for key, source in config.secret_sources.items():
            settings = source.settings
            context = config.integrations.get(_reference(settings.get("context_id")) or "")
            context_settings = context.settings if context is not None else {}
            self._connections[key] = connections.connection(
                ConnectionSettings(
                    region=_text(settings.get("region")) or _text(context_settings.get("region")),
                    endpoint_url=_text(settings.get("endpoint_url")),
                    role_arn=_text(context_settings.get("role_arn")),
                    external_id=_text(context_settings.get("external_id")),
                ),
                "secretsmanager",
            )

    def secret(self, key: str) -> StoredSecret:
        """The ``sym_secret`` called ``key``."""
        return StoredSecret(self, self._config.secrets[key])

    async def value(self, ref: SecretRef) -> str:
        """The value at the secret's path (or its ``settings.json_key`` inside it)."""
        cached = self._cache.get(ref.key)
        now = self._monotonic()
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        client = self._connections[ref.source].secretsmanager()
        try:
            answer = await call(
                "secretsmanager:GetSecretValue", client.get_secret_value(SecretId=ref.path)
            )
        except AwsCallError as error:
            # The message names the operation and AWS's error code, never a value.
            raise SecretUnavailable(f"secret {ref.path}: {error}") from None
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise SecretUnavailable(f"secret {ref.path} has no string value")
        json_key = _text(ref.settings.get("json_key"))
        if json_key is not None:
            text = _json_field(ref.path, text, json_key)
        self._cache[ref.key] = (now, text)
        return text


def _json_field(path: str, text: str, key: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        raise SecretUnavailable(
            f"secret {path} is not JSON, so json_key {key} cannot apply"
        ) from None
    value = document.get(key) if isinstance(document, dict) else None
    if not isinstance(value, str):
        raise SecretUnavailable(f"secret {path} has no string field {key}")
    return value


def _reference(value: object) -> str | None:
    """The resource key of a ``sym_integration.NAME.id`` reference (or a bare key)."""
    text = _text(value)
    if text is None:
        return None
    return text.split(".", 1)[1] if text.startswith("sym_integration.") else text
