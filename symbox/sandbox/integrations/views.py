"""Integrations as hooks and custom strategies see them: settings, with secrets as handles.

A secret setting (an ``env()`` value, or a ``sym_secret`` listed in ``secret_ids_json``)
becomes a marker with a path id; a ``SecretVault`` binds those ids to one call, and the
worker turns each marker into a handle whose ``retrieve_value()`` asks the host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from symbox.config.custom import secret_keys
from symbox.config.model import Integration, Secret
from symbox.sandbox.integrations.scope import StoredSecret
from symbox.sandbox.sdk.strategies import SECRET_KEY


def integration_view(
    integration: Integration,
    stored: Callable[[str], StoredSecret] | None = None,
    prefix: str = "",
) -> tuple[dict[str, Any], dict[str, Secret | StoredSecret]]:
    """The integration as the worker sees it, secrets as handles; and the secrets by handle id.

    ``secret_ids_json`` (Sym's spelling) becomes ``settings["secrets"]``: handles to the
    listed ``sym_secret`` resources, which ``stored`` resolves by key. Handle ids start with
    ``prefix``, so several integrations' secrets can share one vault.
    """
    secrets: dict[str, Secret | StoredSecret] = {}

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, Secret):
            secrets[path] = value
            return {SECRET_KEY: {"id": path, "label": value.source}}
        if isinstance(value, Mapping):
            return {str(key): convert(item, f"{path}.{key}") for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [convert(item, f"{path}[{index}]") for index, item in enumerate(value)]
        return value

    settings = convert(integration.settings, f"{prefix}settings")
    ids = integration.settings.get("secret_ids_json")
    if isinstance(ids, str) and stored is not None:
        handles = []
        for index, key in enumerate(secret_keys(ids)):
            handle = f"{prefix}settings.secrets[{index}]"
            secret = stored(key)
            secrets[handle] = secret
            handles.append({SECRET_KEY: {"id": handle, "label": secret.label}})
        settings["secrets"] = handles
    view = {
        "name": integration.name,
        "type": integration.type,
        "external_id": integration.external_id,
        "label": integration.label,
        "settings": settings,
    }
    return view, secrets
