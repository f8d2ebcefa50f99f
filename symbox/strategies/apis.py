"""API strategies (okta, github, tailscale, onelogin, aptible) built from their integrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from symbox.config.apis import API_STRATEGY_TYPES, stored_secret
from symbox.config.model import Config, Integration, Secret, Strategy
from symbox.identities import IdentityMap
from symbox.sandbox.sdk.exceptions import AccessStrategyError
from symbox.strategies import aptible, github_api, okta, onelogin
from symbox.strategies.aptible import AptibleStrategy
from symbox.strategies.base import StrategyError
from symbox.strategies.github import GithubStrategy
from symbox.strategies.okta import OktaStrategy
from symbox.strategies.onelogin import OneLoginStrategy
from symbox.strategies.rest import RestCaller, RetryTiming, TokenSource, auth_headers
from symbox.strategies.tailscale import TailscaleStrategy
from symbox.strategies.tokens import CachedToken

if TYPE_CHECKING:
    from symbox.aws.secrets import SecretsManagerSecrets

TAILSCALE_API = "https://api.tailscale.com"
APTIBLE_AUTH_API = "https://auth.aptible.com"

__all__ = ["API_STRATEGY_TYPES", "NoIdentities", "build_api_strategy", "token_of"]


class NoIdentities:
    """An identity map with nothing set: every system's own rule applies."""

    async def identity_of(self, email: str, system: str) -> str | None:
        """Nothing is ever set."""
        return None


def token_of(
    integration: Integration, secrets: SecretsManagerSecrets | None
) -> str | TokenSource | None:
    """The integration's API token: the ``env()`` value, or a reader of its ``sym_secret``.

    A stored token is read from Secrets Manager when a call first needs it (and again as
    its cache expires), never at start-up; a failure to read it is a StrategyError worth
    retrying, naming the secret's path and never its value. None: the integration has no
    token symbox can use.
    """
    return secret_of(integration, "api_token", "the API token", secrets)


def secret_of(
    integration: Integration, name: str, what: str, secrets: SecretsManagerSecrets | None
) -> str | TokenSource | None:
    """The secret setting ``name`` (or ``name_secret``) read as ``token_of`` reads the token."""
    value = stored_secret(integration.settings, name)
    if isinstance(value, Secret):
        return value.reveal()
    if value is None or secrets is None:
        return None
    stored = secrets.secret(value)

    async def read() -> str:
        try:
            return await stored.value()
        except AccessStrategyError as error:
            # Secrets Manager may be briefly unreachable; the service retries later.
            raise StrategyError(
                f"reading {what}: {error}", permanent=False, reached_target=False
            ) from None

    return read


def build_api_strategy(
    config: Config,
    strategy: Strategy,
    client: httpx.AsyncClient,
    identities: IdentityMap,
    timing: RetryTiming | None = None,
    secrets: SecretsManagerSecrets | None = None,
) -> OktaStrategy | GithubStrategy | TailscaleStrategy | OneLoginStrategy | AptibleStrategy:
    """The strategy object for an API sym_strategy (one of ``API_STRATEGY_TYPES``).

    Its integration gives the API token (``settings.api_token``, an ``env()`` secret, or
    ``settings.api_token_secret``, a ``sym_secret`` read through ``secrets``) or, for
    OneLogin, ``client_id`` and the client secret read the same way (Aptible: ``username``
    and the password); and the address: ``settings.base_url``, else ``https://<external_id>``
    for Okta and OneLogin, and the public API for GitHub, Tailscale (whose ``external_id``
    is the tailnet) and Aptible (whose ``external_id`` is the organization id).
    """
    assert strategy.integration is not None, "validated by config"
    integration = config.integrations[strategy.integration]
    base_url = integration.settings.get("base_url")
    if strategy.type == "onelogin":
        return _onelogin(integration, client, identities, timing, secrets)
    if strategy.type == "aptible":
        return _aptible(integration, client, identities, timing, secrets)
    token = token_of(integration, secrets)
    assert token is not None, "validated by config"
    if strategy.type == "okta":
        url = base_url if isinstance(base_url, str) else f"https://{integration.external_id}"
        headers, auth = auth_headers("SSWS", token)
        rest = RestCaller(
            "Okta",
            url,
            {**headers, "Accept": "application/json"},
            client,
            timing=timing,
            reset_headers=okta.RESET_HEADERS,
            auth=auth,
        )
        return OktaStrategy(rest, identities)
    if strategy.type == "tailscale":
        url = base_url if isinstance(base_url, str) else TAILSCALE_API
        headers, auth = auth_headers("Bearer", token)
        rest = RestCaller(
            "Tailscale",
            url,
            {**headers, "Accept": "application/json"},
            client,
            timing=timing,
            auth=auth,
        )
        return TailscaleStrategy(rest, identities, integration.external_id)
    address = base_url if isinstance(base_url, str) else None
    rest = github_api.rest_caller(address, token, client, timing)
    return GithubStrategy(rest, identities, integration.external_id or None)


def _onelogin(
    integration: Integration,
    client: httpx.AsyncClient,
    identities: IdentityMap,
    timing: RetryTiming | None,
    secrets: SecretsManagerSecrets | None,
) -> OneLoginStrategy:
    base_url = integration.settings.get("base_url")
    url = base_url if isinstance(base_url, str) else f"https://{integration.external_id}"
    client_id = integration.settings.get("client_id")
    secret = secret_of(integration, "client_secret", "the OneLogin client secret", secrets)
    assert isinstance(client_id, str) and secret is not None, "validated by config"

    def caller(auth: CachedToken | None) -> RestCaller:
        return RestCaller(
            onelogin.SERVICE,
            url,
            {"Accept": "application/json"},
            client,
            timing=timing,
            wait_headers=onelogin.WAIT_HEADERS,
            auth=auth.headers if auth is not None else None,
        )

    token = CachedToken(onelogin.token_fetch(caller(None), client_id, secret))
    return OneLoginStrategy(caller(token), token, identities)


def _aptible(
    integration: Integration,
    client: httpx.AsyncClient,
    identities: IdentityMap,
    timing: RetryTiming | None,
    secrets: SecretsManagerSecrets | None,
) -> AptibleStrategy:
    base_url = integration.settings.get("base_url")
    url = base_url if isinstance(base_url, str) else APTIBLE_AUTH_API
    username = integration.settings.get("username")
    password = secret_of(integration, "password", "the Aptible password", secrets)
    assert isinstance(username, str) and password is not None, "validated by config"

    def caller(auth: CachedToken | None) -> RestCaller:
        return RestCaller(
            aptible.SERVICE,
            url,
            {"Accept": "application/hal+json"},
            client,
            timing=timing,
            auth=auth.headers if auth is not None else None,
        )

    token = CachedToken(aptible.token_fetch(caller(None), username, password))
    return AptibleStrategy(caller(token), token, identities, integration.external_id, url)
