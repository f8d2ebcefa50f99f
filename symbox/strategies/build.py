"""Strategy objects from the validated config: one per ``sym_strategy`` symbox implements."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from symbox.aws.from_config import connection_settings, iam_directory, identity_center
from symbox.aws.session import AwsConnections, AwsSetupError
from symbox.config.model import Config, Secret, Strategy
from symbox.errors import StartupError
from symbox.strategies.apis import API_STRATEGY_TYPES, NoIdentities, build_api_strategy
from symbox.strategies.aws_iam import AwsIamStrategy
from symbox.strategies.aws_lambda import AwsLambdaStrategy
from symbox.strategies.aws_sso import AwsSsoStrategy
from symbox.strategies.base import AccessStrategy
from symbox.strategies.custom import CustomStrategies
from symbox.strategies.http import HttpStrategy
from symbox.strategies.identities import IdentityMap

if TYPE_CHECKING:
    from symbox.aws.secrets import SecretsManagerSecrets

AWS_STRATEGY_TYPES = frozenset({"aws_sso", "aws_iam", "aws_lambda"})


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


def build_aws_strategy(
    config: Config, strategy: Strategy, connections: AwsConnections
) -> AwsSsoStrategy | AwsIamStrategy | AwsLambdaStrategy:
    """The strategy object for an ``aws_sso``, ``aws_iam`` or ``aws_lambda`` sym_strategy."""
    settings = connection_settings(config, strategy)
    if strategy.type == "aws_lambda":
        return AwsLambdaStrategy(connections.connection(settings, "lambda"))
    if strategy.type == "aws_sso":
        connection = connections.connection(settings, "sso-admin", "identitystore")
        return AwsSsoStrategy(identity_center(connection, strategy))
    return AwsIamStrategy(iam_directory(connections.connection(settings, "iam"), strategy))
