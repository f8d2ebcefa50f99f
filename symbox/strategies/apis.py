"""API strategies (okta, github, tailscale, onelogin, aptible, google_group) built from their
integrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from symbox.aws.secrets import SecretUnavailable
from symbox.config.apis import API_STRATEGY_TYPES, SECRET_PREFIX, stored_secret
from symbox.config.google import stored_key
from symbox.config.model import Config, Integration, Secret, Strategy
from symbox.strategies import aptible, github_api, okta, onelogin
from symbox.strategies.aptible import AptibleStrategy
from symbox.strategies.base import StrategyError
from symbox.strategies.github import GithubStrategy
from symbox.strategies.google_auth import GoogleTokens, KeySource
from symbox.strategies.google_group import GoogleGroupStrategy
from symbox.strategies.identities import IdentityMap
from symbox.strategies.okta import OktaStrategy
from symbox.strategies.onelogin import OneLoginStrategy
from symbox.strategies.rest import RestCaller, RetryTiming, TokenSource, auth_headers
from symbox.strategies.tailscale import TailscaleStrategy
from symbox.strategies.tokens import CachedToken

if TYPE_CHECKING:
    from symbox.aws.secrets import SecretsManagerSecrets

TAILSCALE_API = "https://api.tailscale.com"
APTIBLE_AUTH_API = "https://auth.aptible.com"
GOOGLE_ADMIN_API = "https://admin.googleapis.com"

__all__ = [
    "API_STRATEGY_TYPES",
    "NoIdentities",
    "build_api_strategy",
    "build_google_group",
    "token_of",
]


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
    return _stored(secrets, value, what)


def _stored(secrets: SecretsManagerSecrets, key: str, what: str) -> TokenSource:
    stored = secrets.secret(key)

    async def read() -> str:
        try:
            return await stored.value()
        except SecretUnavailable as error:
            # Secrets Manager may be briefly unreachable; the service retries later.
            raise StrategyError(
                f"reading {what}: {error}", permanent=False, reached_target=False
            ) from None

    return read


def service_account_key(
    integration: Integration, secrets: SecretsManagerSecrets | None
) -> KeySource:
    """A google integration's service account key: ``env()``, or its ``sym_secret`` when needed."""
    key = integration.settings.get("service_account_key")
    if isinstance(key, Secret):
        text = key.reveal()

        async def known() -> str:
            return text

        return known
    stored = stored_key(integration.settings)
    assert stored is not None and secrets is not None, "validated by config"
    return _stored(secrets, stored, "the service account key")


def build_google_group(
    integration: Integration,
    client: httpx.AsyncClient,
    identities: IdentityMap,
    timing: RetryTiming | None = None,
    secrets: SecretsManagerSecrets | None = None,
) -> GoogleGroupStrategy:
    """A ``google_group`` strategy acting as the integration's ``admin_email``."""
    admin = integration.settings.get("admin_email")
    subject = admin.reveal() if isinstance(admin, Secret) else admin
    assert isinstance(subject, str), "validated by config"
    tokens = GoogleTokens(
        service_account_key(integration, secrets), subject.strip(), client, timing=timing
    )
    base_url = integration.settings.get("base_url")
    rest = RestCaller(
        "Google",
        base_url if isinstance(base_url, str) else GOOGLE_ADMIN_API,
        {"Accept": "application/json"},
        client,
        timing=timing,
        auth=tokens.headers,
    )
    return GoogleGroupStrategy(rest, tokens, identities)


def build_api_strategy(
    config: Config,
    strategy: Strategy,
    client: httpx.AsyncClient,
    identities: IdentityMap,
    timing: RetryTiming | None = None,
    secrets: SecretsManagerSecrets | None = None,
) -> (
    OktaStrategy
    | GithubStrategy
    | TailscaleStrategy
    | OneLoginStrategy
    | AptibleStrategy
    | GoogleGroupStrategy
):
    """The strategy object for an API sym_strategy (one of ``API_STRATEGY_TYPES``).

    Its integration gives the API token (``settings.api_token``, an ``env()`` secret, or
    ``settings.api_token_secret``, a ``sym_secret`` read through ``secrets``) or, for
    OneLogin, ``client_id`` and the client secret read the same way (Aptible: ``username``
    and the password); and the address: ``settings.base_url``, else ``https://<external_id>``
    for Okta and OneLogin, and the public API for GitHub, Tailscale (whose ``external_id``
    is the tailnet) and Aptible (whose ``external_id`` is the organization id). A
    google_group's integration holds a service account key instead (``build_google_group``).
    """
    assert strategy.integration is not None, "validated by config"
    integration = config.integrations[strategy.integration]
    if strategy.type == "google_group":
        return build_google_group(integration, client, identities, timing, secrets)
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
    plain = integration.settings.get("username")
    username = (
        plain
        if isinstance(plain, str) and not plain.startswith(SECRET_PREFIX)
        else secret_of(integration, "username", "the Aptible user name", secrets)
    )
    password = secret_of(integration, "password", "the Aptible password", secrets)
    assert username is not None and password is not None, "validated by config"

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
