"""``okta``, ``github`` and ``tailscale`` strategies built from their ``sym_integration`` blocks."""

from __future__ import annotations

import httpx

from symbox.config.apis import API_STRATEGY_TYPES
from symbox.config.model import Config, Secret, Strategy
from symbox.identities import IdentityMap
from symbox.strategies import github_api, okta
from symbox.strategies.github import GithubStrategy
from symbox.strategies.okta import OktaStrategy
from symbox.strategies.rest import RestCaller, RetryTiming
from symbox.strategies.tailscale import TailscaleStrategy

TAILSCALE_API = "https://api.tailscale.com"

__all__ = ["API_STRATEGY_TYPES", "NoIdentities", "build_api_strategy"]


class NoIdentities:
    """An identity map with nothing set: every system's own rule applies."""

    async def identity_of(self, email: str, system: str) -> str | None:
        """Nothing is ever set."""
        return None


def build_api_strategy(
    config: Config,
    strategy: Strategy,
    client: httpx.AsyncClient,
    identities: IdentityMap,
    timing: RetryTiming | None = None,
) -> OktaStrategy | GithubStrategy | TailscaleStrategy:
    """The strategy object for an ``okta``, ``github`` or ``tailscale`` sym_strategy.

    Its integration gives the API token (``settings.api_token``, an ``env()`` secret) and
    the address: ``settings.base_url``, else ``https://<external_id>`` for Okta and the
    public API for GitHub and Tailscale (whose ``external_id`` is the tailnet).
    """
    assert strategy.integration is not None, "validated by config"
    integration = config.integrations[strategy.integration]
    token = integration.settings.get("api_token")
    base_url = integration.settings.get("base_url")
    assert isinstance(token, Secret), "validated by config"
    if strategy.type == "okta":
        url = base_url if isinstance(base_url, str) else f"https://{integration.external_id}"
        headers = {"Authorization": f"SSWS {token.reveal()}", "Accept": "application/json"}
        rest = RestCaller(
            "Okta", url, headers, client, timing=timing, reset_headers=okta.RESET_HEADERS
        )
        return OktaStrategy(rest, identities)
    if strategy.type == "tailscale":
        url = base_url if isinstance(base_url, str) else TAILSCALE_API
        headers = {"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"}
        rest = RestCaller("Tailscale", url, headers, client, timing=timing)
        return TailscaleStrategy(rest, identities, integration.external_id)
    address = base_url if isinstance(base_url, str) else None
    rest = github_api.rest_caller(address, token.reveal(), client, timing)
    return GithubStrategy(rest, identities, integration.external_id or None)
