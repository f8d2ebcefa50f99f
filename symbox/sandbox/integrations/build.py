"""The host-side clients hooks' integration calls reach, from ``sym_integration`` blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from symbox.aws.from_config import hook_directories, hook_lambda
from symbox.aws.session import AwsConnections, AwsSetupError
from symbox.config.apis import api_token
from symbox.config.model import Config, Integration
from symbox.errors import StartupError
from symbox.sandbox.integrations.aws import AwsIamHooks, AwsLambdaHooks, AwsSsoHooks
from symbox.sandbox.integrations.github import HOOK_RETRIES, GithubClient
from symbox.sandbox.integrations.knowbe4 import KnowBe4Client, region_url
from symbox.sandbox.integrations.okta import OktaClient
from symbox.sandbox.integrations.pagerduty import PagerDutyClient
from symbox.sandbox.integrations.provider import Integrations, SlackCalls
from symbox.strategies.apis import token_of
from symbox.strategies.github_api import rest_caller
from symbox.strategies.identities import IdentityDirectory

if TYPE_CHECKING:
    from symbox.aws.secrets import SecretsManagerSecrets

PAGERDUTY_API = "https://api.pagerduty.com"
# The integration types hooks call through symbox (AWS and Slack come from elsewhere).
HOOK_INTEGRATION_TYPES = ("pagerduty", "okta", "github", "knowbe4")


def build_integrations(
    config: Config,
    client: httpx.AsyncClient,
    aws: AwsConnections | None = None,
    *,
    identities: IdentityDirectory,
    slack: SlackCalls | None = None,
    environment: str | None = None,
    secrets: SecretsManagerSecrets | None = None,
) -> Integrations:
    """Host-side clients for the integrations hooks may call, from ``sym_integration`` blocks.

    Each needs ``settings.api_token`` (an ``env()`` secret) or ``settings.api_token_secret``
    (a ``sym_secret``, read through ``secrets`` when first used); ``settings.base_url`` overrides
    the service's address (PagerDuty's API, ``https://<external_id>`` for Okta, GitHub's
    public API, ``https://<region>.api.knowbe4.com`` for KnowBe4's ``settings.region``).
    GitHub's ``external_id`` is the organization that owns the repositories
    hooks name, and ``identities`` (the store) tells which symbox user a GitHub login is.
    For ``environment``'s hooks, an integration the environment lists in ``integrations``
    is the one of its type; else the only one of its type, if there is only one.
    AWS lookups use the first ``aws_iam`` / ``aws_sso`` strategy's connection and mapping.
    """
    chosen = _hook_integrations(config, environment)
    pagerduty: PagerDutyClient | None = None
    okta: OktaClient | None = None
    github: GithubClient | None = None
    knowbe4: KnowBe4Client | None = None
    for integration in chosen:
        token = token_of(integration, secrets)
        base_url = integration.settings.get("base_url")
        if token is None:
            continue  # a stored token without a secrets reader cannot be used
        if integration.type == "pagerduty":
            url = base_url if isinstance(base_url, str) else PAGERDUTY_API
            pagerduty = PagerDutyClient(url, token, client)
        elif integration.type == "okta":
            url = base_url if isinstance(base_url, str) else f"https://{integration.external_id}"
            okta = OktaClient(url, token, client)
        elif integration.type == "github":
            address = base_url if isinstance(base_url, str) else None
            rest = rest_caller(address, token, client, HOOK_RETRIES)
            github = GithubClient(rest, integration.external_id or None, identities)
        elif integration.type == "knowbe4":
            region = str(integration.settings.get("region", ""))
            url = base_url if isinstance(base_url, str) else region_url(region)
            knowbe4 = KnowBe4Client(url, token, client)
    try:
        iam, center = hook_directories(config, aws) if aws is not None else (None, None)
        functions = hook_lambda(config, aws) if aws is not None else None
    except AwsSetupError as error:
        raise StartupError(str(error)) from None
    return Integrations(
        pagerduty=pagerduty,
        okta=okta,
        aws_iam=AwsIamHooks(iam) if iam is not None else None,
        aws_sso=AwsSsoHooks(center) if center is not None else None,
        aws_lambda=AwsLambdaHooks(functions) if functions is not None else None,
        slack=slack,
        github=github,
        knowbe4=knowbe4,
    )


def _hook_integrations(config: Config, environment: str | None) -> list[Integration]:
    """The pagerduty, okta and github integrations ``environment``'s hooks reach."""
    env = config.environments.get(environment) if environment is not None else None
    listed = set(env.integrations.values()) if env is not None else set()
    chosen: list[Integration] = []
    for kind in HOOK_INTEGRATION_TYPES:
        usable = [
            integration
            for _, integration in sorted(config.integrations.items())
            if integration.type == kind and api_token(integration.settings) is not None
        ]
        mine = [integration for integration in usable if integration.key in listed]
        # Several of a kind and none listed: which one is meant is not for symbox to guess.
        chosen.extend(mine[:1] or (usable if len(usable) == 1 else []))
    return chosen


def hook_integration_types(config: Config, environment: str) -> frozenset[str]:
    """The types of the pagerduty, okta and github integrations ``environment``'s hooks reach."""
    return frozenset(integration.type for integration in _hook_integrations(config, environment))
