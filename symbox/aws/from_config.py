"""AWS clients as the validated config describes them: connection settings, Identity Center,
IAM, and the directories hooks' AWS calls use.
"""

from __future__ import annotations

from symbox.aws.iam import IamDirectory, IamUserMapping
from symbox.aws.identity_center import IdentityCenter, UserMapping
from symbox.aws.session import AwsConnection, AwsConnections, AwsSetupError
from symbox.aws.settings import ConnectionSettings
from symbox.config.model import Config, Integration, Secret, Strategy

PERMISSION_CONTEXT = "permission_context"


def _text(value: object) -> str | None:
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, str) and value:
        return value
    return None


def permission_context(config: Config, strategy: Strategy) -> Integration | None:
    """The ``permission_context`` integration whose role the strategy assumes, if any.

    The strategy's own ``integration_id`` wins; otherwise the ``context_id`` of the runtime
    of the environments whose flows use the strategy, when they agree on one.
    """
    if strategy.integration is not None:
        integration = config.integrations.get(strategy.integration)
        return integration if integration and integration.type == PERMISSION_CONTEXT else None
    contexts: set[str] = set()
    for flow in config.flows.values():
        if flow.params.strategy != strategy.key:
            continue
        environment = config.environments.get(flow.environment)
        runtime = config.runtimes.get(environment.runtime or "") if environment else None
        if runtime is not None and runtime.context is not None:
            contexts.add(runtime.context)
    if len(contexts) > 1:
        shown = ", ".join(sorted(contexts))
        raise AwsSetupError(
            f"sym_strategy.{strategy.key}: its flows' runtimes name different permission "
            f"contexts ({shown}); set the strategy's integration_id to choose one"
        )
    integration = config.integrations.get(next(iter(contexts))) if contexts else None
    return integration if integration and integration.type == PERMISSION_CONTEXT else None


def connection_settings(config: Config, strategy: Strategy) -> ConnectionSettings:
    """Region, endpoint and role for a strategy: its settings, then its permission context."""
    context = permission_context(config, strategy)
    context_settings = context.settings if context is not None else {}
    return ConnectionSettings(
        region=_text(strategy.settings.get("region")) or _text(context_settings.get("region")),
        endpoint_url=_text(strategy.settings.get("endpoint_url")),
        role_arn=_text(context_settings.get("role_arn")),
        external_id=_text(context_settings.get("external_id")),
    )


def identity_center(connection: AwsConnection, strategy: Strategy) -> IdentityCenter:
    """The Identity Center instance an ``aws_sso`` strategy grants in."""
    settings = strategy.settings
    instance_arn = _text(settings.get("instance_arn"))
    mapping = _text(settings.get("user_mapping")) or "user_name"
    assert instance_arn is not None, "validated by config"
    assert mapping in ("user_name", "email"), "validated by config"
    user_mapping: UserMapping = "email" if mapping == "email" else "user_name"
    return IdentityCenter(
        connection,
        instance_arn,
        identity_store_id=_text(settings.get("identity_store_id")),
        user_mapping=user_mapping,
    )


def iam_directory(connection: AwsConnection, strategy: Strategy) -> IamDirectory:
    """The IAM users and groups an ``aws_iam`` strategy grants in."""
    mapping = _text(strategy.settings.get("user_mapping")) or "user_name"
    return IamDirectory(connection, IamUserMapping.parse(mapping))


def hook_directories(
    config: Config, connections: AwsConnections
) -> tuple[IamDirectory | None, IdentityCenter | None]:
    """What hooks' ``aws_iam`` and ``aws_sso`` calls use: the first strategy of each type.

    Strategies are taken in key order, so the choice is stable when a config has several.
    """
    iam: IamDirectory | None = None
    center: IdentityCenter | None = None
    for key in sorted(config.strategies):
        strategy = config.strategies[key]
        if strategy.type == "aws_iam" and iam is None:
            connection = connections.connection(connection_settings(config, strategy), "iam")
            iam = iam_directory(connection, strategy)
        elif strategy.type == "aws_sso" and center is None:
            connection = connections.connection(
                connection_settings(config, strategy), "sso-admin", "identitystore"
            )
            center = identity_center(connection, strategy)
    return iam, center


def hook_lambda(config: Config, connections: AwsConnections) -> AwsConnection | None:
    """What hooks' ``aws_lambda.invoke`` uses: the first ``aws_lambda`` strategy's connection."""
    for key in sorted(config.strategies):
        strategy = config.strategies[key]
        if strategy.type == "aws_lambda":
            return connections.connection(connection_settings(config, strategy), "lambda")
    return None
