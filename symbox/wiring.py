"""From config to parts: the strategies, the integrations hooks reach, the audit files.

``symbox/app.py`` builds everything in one place; these are the pieces of that wiring that
read the config, kept apart so App stays about running things.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from symbox.aws.build import (
    AWS_STRATEGY_TYPES,
    build_aws_strategy,
    hook_directories,
    hook_lambda,
)
from symbox.aws.session import AwsConnections, AwsSetupError
from symbox.config.apis import api_token
from symbox.config.model import Config, Integration, Secret
from symbox.engine.forms import shapes_form
from symbox.errors import StartupError
from symbox.identities import IdentityDirectory, IdentityMap
from symbox.sandbox.integrations import GithubClient, Integrations, OktaClient, PagerDutyClient
from symbox.sandbox.integrations.aws import AwsIamHooks, AwsLambdaHooks, AwsSsoHooks
from symbox.sandbox.integrations.github import HOOK_RETRIES
from symbox.sandbox.integrations.knowbe4 import KnowBe4Client, region_url
from symbox.strategies.apis import API_STRATEGY_TYPES, NoIdentities, build_api_strategy, token_of
from symbox.strategies.base import AccessStrategy
from symbox.strategies.custom import CustomStrategies
from symbox.strategies.github_api import rest_caller
from symbox.strategies.http import HttpStrategy

if TYPE_CHECKING:
    from symbox.aws.secrets import SecretsManagerSecrets
    from symbox.slack.hook_calls import SlackHookCalls

AUDIT_FILE_NAME = "audit.jsonl"
DEFAULT_AUDIT_DESTINATION = "file"
HOOK_PREFIXES = ("on_", "after_", "get_")
PAGERDUTY_API = "https://api.pagerduty.com"
# The integration types hooks call through symbox (AWS and Slack come from elsewhere).
HOOK_INTEGRATION_TYPES = ("pagerduty", "okta", "github", "knowbe4")


def audit_paths(config: Config, data_dir: Path) -> dict[str, Path]:
    """The JSON-lines files audit records go to, by destination name.

    Every ``file`` log destination of the config, with relative paths under the data
    folder; with none configured, ``<data-dir>/audit.jsonl``.
    """
    paths: dict[str, Path] = {}
    for key, destination in config.log_destinations.items():
        if destination.type != "file":
            continue
        raw = destination.settings.get("path")
        path = Path(raw) if isinstance(raw, str) and raw else Path(AUDIT_FILE_NAME)
        paths[f"file:{key}"] = path if path.is_absolute() else data_dir / path
    return paths or {DEFAULT_AUDIT_DESTINATION: data_dir / AUDIT_FILE_NAME}


def build_strategies(
    config: Config,
    client: httpx.AsyncClient,
    custom: CustomStrategies | None = None,
    aws: AwsConnections | None = None,
    identities: IdentityMap | None = None,
    secrets: SecretsManagerSecrets | None = None,
) -> dict[str, AccessStrategy]:
    """One strategy object per ``sym_strategy`` that symbox implements.

    ``identities`` are the users' identities set with ``symbox users`` (the store);
    ``secrets`` reads the API tokens integrations keep in a ``sym_secret``.
    """
    strategies: dict[str, AccessStrategy] = {}
    for key, strategy in config.strategies.items():
        if strategy.type in API_STRATEGY_TYPES:
            strategies[key] = build_api_strategy(
                config, strategy, client, identities or NoIdentities(), secrets=secrets
            )
        if strategy.type in AWS_STRATEGY_TYPES and aws is not None:
            try:
                strategies[key] = build_aws_strategy(config, strategy, aws)
            except AwsSetupError as error:
                raise StartupError(str(error)) from None
        if strategy.type == "http":
            url = strategy.settings["url"]
            secret = strategy.settings["signing_secret"]
            assert isinstance(url, str) and isinstance(secret, Secret), "validated by config"
            strategies[key] = HttpStrategy(url, secret, client)
        elif strategy.type == "custom" and custom is not None:
            strategies[key] = custom.build(strategy)
    return strategies


def build_integrations(
    config: Config,
    client: httpx.AsyncClient,
    aws: AwsConnections | None = None,
    *,
    identities: IdentityDirectory,
    slack: SlackHookCalls | None = None,
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


def defines_hooks(config: Config) -> bool:
    """Tell whether any flow's implementation defines a hook or reducer function."""
    for flow in config.flows.values():
        if shapes_form(flow):
            return True  # prefetch reducers and on_change functions run in the sandbox
        try:
            tree = ast.parse(flow.implementation)
        except SyntaxError:
            return True  # the sandbox reports it, with its file and line, when it runs
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith(HOOK_PREFIXES):
                return True
    return False


def config_digest(config: Config) -> str:
    """A digest of the config files' bytes, to tell in the audit log which config ran."""
    digest = hashlib.sha256()
    for name in config.files:
        digest.update(Path(name).read_bytes())
    return digest.hexdigest()
