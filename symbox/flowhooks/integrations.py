"""``event.flow.environment.integrations``: the environment's integrations, as Sym shows them.

Each entry of a ``sym_environment``'s ``integrations`` is shown under its key without
``_id`` (``circleci_id`` is ``integrations["circleci"]``), with its name, type,
external_id, label and settings. A ``custom`` integration's secrets (``env()`` settings and
``secret_ids_json``) are handles a hook resolves with ``retrieve_value()``, bound to the
one call that got them. Integrations symbox itself calls (Okta, PagerDuty, GitHub,
Slack...) show their settings with secrets redacted: hooks reach those through the SDK,
never with the token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from symbox.audit.entry import redact
from symbox.config.model import Config, Secret
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.scope import (
    CallScope,
    SecretVault,
    StepOutputs,
    StoredSecret,
    scope_name,
)
from symbox.sandbox.integrations.views import integration_view


def integration_name(entry: str) -> str:
    """The name hooks look an environment's integration up by: ``circleci_id`` is ``circleci``."""
    return entry.removesuffix("_id")


@dataclass(frozen=True)
class EnvironmentIntegrations:
    """One environment's integrations as hooks see them, and the secrets behind the handles."""

    views: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Secret | StoredSecret] = field(default_factory=dict)


def environment_integrations(
    config: Config, stored: Callable[[str], StoredSecret] | None = None
) -> dict[str, EnvironmentIntegrations]:
    """Every environment's integrations for its hooks, by environment key."""
    result: dict[str, EnvironmentIntegrations] = {}
    for key, environment in config.environments.items():
        views: dict[str, Any] = {}
        secrets: dict[str, Secret | StoredSecret] = {}
        for entry, reference in environment.integrations.items():
            integration = config.integrations.get(reference)
            if integration is None:
                continue
            name = integration_name(entry)
            if integration.type == "custom":
                view, found = integration_view(integration, stored, prefix=f"{name}.")
                secrets.update(found)
            else:
                view = {
                    "name": integration.name,
                    "type": integration.type,
                    "external_id": integration.external_id,
                    "label": integration.label,
                    "settings": redact(dict(integration.settings)),
                }
            views[name] = view
        result[key] = EnvironmentIntegrations(views, secrets)
    return result


class HookCall:
    """One hook call's integrations: the environment's, plus secret handles for this call only."""

    def __init__(
        self,
        base: IntegrationProvider | None,
        environment: EnvironmentIntegrations | None,
        outputs: StepOutputs | None = None,
    ) -> None:
        self._environment = environment or EnvironmentIntegrations()
        secrets = self._environment.secrets
        self._vault = SecretVault(secrets) if secrets else None
        self.integrations: IntegrationProvider | None = base
        if self._vault is not None:
            http = base.http if isinstance(base, CallScope) else None
            self.integrations = CallScope(
                base, http=http, secrets=self._vault, name=scope_name(base)
            )
        if outputs is not None and isinstance(self.integrations, CallScope):
            # The run's step outputs, for get_step_output (a scope-less call has none).
            self.integrations = self.integrations.with_outputs(outputs)

    def bind(self, event: dict[str, Any]) -> dict[str, Any]:
        """``event`` with its environment's integrations, handles bound to this call."""
        views: Any = dict(self._environment.views)
        if self._vault is not None:
            views = self._vault.bind(views)
        event["flow"]["environment"]["integrations"] = views
        return event

    def scrub(self, text: str) -> str:
        """``text`` without any secret value this call read (a hook may echo one)."""
        return self._vault.scrub(text) if self._vault is not None else text

    def close(self) -> None:
        """Refuse the call's handles from now on."""
        if self._vault is not None:
            self._vault.close()
