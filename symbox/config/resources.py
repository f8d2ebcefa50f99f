"""Build the model of each sym_* resource but flows, from its checked arguments.

Each ``build_*`` takes the reader that records problems and, where a resource names
another, ``checked``: every resource's checked arguments by (type, key).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from symbox.config import model, schema
from symbox.config.apis import (
    API_STRATEGY_TYPES,
    TOKEN_INTEGRATION_TYPES,
    check_api_integration,
    check_api_strategy,
    check_api_target,
)
from symbox.config.aws import check_aws_strategy, check_aws_target, check_permission_context
from symbox.config.call_limits import check_call_limits
from symbox.config.custom import check_custom_integration, check_custom_strategy
from symbox.config.destinations import check_log_destination, check_segment_integration
from symbox.config.google import check_google_integration, check_google_strategy
from symbox.config.hcl import show
from symbox.config.model import Location, Secret
from symbox.config.notifiers import NOTIFIER_TYPES, check_notifier_integration
from symbox.config.schema import IMPLEMENTED, Args, Reader, known

Checked = Mapping[tuple[str, str], Args]


def check_type(reader: Reader, args: Args, where: str, what: str, choices: frozenset[str]) -> bool:
    """Whether the type's own checks should run: ``type`` is one of ``choices``, and no
    argument failed already (a setting only Terraform knows would otherwise be reported
    again as missing). A type not in ``choices`` is reported."""
    value = args.values.get("type")
    if value is None or value in choices:
        return value is not None and not args.failed
    shown = known(choices)
    reader.problem(
        args.lines["type"], f"{where}: type: unknown {what} type {show(value)} (known: {shown})"
    )
    args.ok = False
    return False


def integration_kind(checked: Checked, key: str) -> str | None:
    """The type of ``sym_integration.KEY``, or None when it has none."""
    kind = checked[("sym_integration", key)].values.get("type")
    return kind if isinstance(kind, str) else None


def build_integration(
    reader: Reader,
    notices: list[str],
    has_secret: Callable[[str], bool],
    key: str,
    args: Args,
    at: Location,
) -> model.Integration | None:
    """A ``sym_integration``, with its type's own checks."""
    where = schema.address("sym_integration", key)
    typed = check_type(reader, args, where, "integration", schema.INTEGRATION_TYPES)
    if typed and args.values["type"] == "custom":
        check_custom_integration(reader, where, args, at, has_secret)
    elif typed and args.values["type"] == "permission_context":
        check_permission_context(reader, where, args, at)
    elif typed and args.values["type"] in TOKEN_INTEGRATION_TYPES:
        check_api_integration(reader, where, args, at, has_secret)
    elif typed and args.values["type"] == "google":
        check_google_integration(reader, where, args, at, has_secret)
    elif typed and args.values["type"] == "slack":
        _slack_tokens(reader, notices, where, args, at)
    elif typed and args.values["type"] == "segment":
        check_segment_integration(reader, where, args, at, has_secret)
    elif typed and args.values["type"] in NOTIFIER_TYPES:
        check_notifier_integration(reader, where, args, at)
    if not args.ok:
        return None
    v = args.values
    return model.Integration(
        key, v["name"], v["type"], v["external_id"], v.get("label"), v.get("settings", {}), at
    )


def _slack_tokens(reader: Reader, notices: list[str], where: str, args: Args, at: Location) -> None:
    """Sym's Slack integration has no tokens (Sym's app holds them); symbox needs its own."""
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    for name in ("bot_token", "app_token"):
        token = settings.get(name)
        if token is not None and not isinstance(token, Secret):
            reader.problem(line, f'{where}: settings.{name}: must be read with env("NAME")')
            args.ok = False
    if settings.get("bot_token") is None:
        notices.append(
            f"{at}: {where}: Slack stays off until symbox has its own Slack app's tokens: "
            'add settings.bot_token = env("SLACK_BOT_TOKEN") and '
            'settings.app_token = env("SLACK_APP_TOKEN") (see docs/slack.md)'
        )


def build_runtime(
    reader: Reader, checked: Checked, key: str, args: Args, at: Location
) -> model.Runtime | None:
    """A ``sym_runtime``; its context_id must name a permission_context integration."""
    _integration_type(
        reader,
        checked,
        args,
        schema.address("sym_runtime", key),
        "context_id",
        "permission_context",
    )
    v = args.values
    return (
        model.Runtime(key, v["name"], v.get("label"), v.get("context_id"), at) if args.ok else None
    )


def build_error_logger(
    reader: Reader, checked: Checked, key: str, args: Args, at: Location
) -> model.ErrorLogger | None:
    """A ``sym_error_logger``; its integration_id must name a slack integration."""
    _integration_type(
        reader, checked, args, schema.address("sym_error_logger", key), "integration_id", "slack"
    )
    v = args.values
    return model.ErrorLogger(key, v["integration_id"], v["destination"], at) if args.ok else None


def _integration_type(
    reader: Reader, checked: Checked, args: Args, where: str, name: str, expected: str
) -> None:
    ref = args.values.get(name)
    if ref is None:
        return
    actual = checked[("sym_integration", ref)].values.get("type")
    if actual is not None and actual != expected:
        reader.problem(
            args.lines[name],
            f"{where}: {name}: sym_integration.{ref} has type {show(actual)}, "
            f"expected {show(expected)}",
        )
        args.ok = False


def build_log_destination(
    reader: Reader, checked: Checked, key: str, args: Args, at: Location
) -> model.LogDestination | None:
    """A ``sym_log_destination``, with its type's own checks."""
    where = schema.address("sym_log_destination", key)
    if check_type(reader, args, where, "log destination", schema.LOG_DESTINATION_TYPES):
        kind = args.values["type"]
        if kind not in IMPLEMENTED.log_destination_types:
            available = known(IMPLEMENTED.log_destination_types)
            reader.problem(
                args.lines["type"],
                f"{where}: type: log destination type {kind} is not implemented yet "
                f"in symbox (available: {available})",
            )
        path = args.values.get("settings", {}).get("path")
        if kind == "file" and path is not None and (not isinstance(path, str) or not path):
            reader.problem(args.lines["settings"], f"{where}: settings.path: expected a file path")
            args.ok = False
        check_log_destination(reader, where, args, at, partial(integration_kind, checked))
    v = args.values
    return (
        model.LogDestination(key, v["type"], v.get("integration_id"), v.get("settings", {}), at)
        if args.ok
        else None
    )


def build_environment(key: str, args: Args, at: Location) -> model.Environment | None:
    """A ``sym_environment``."""
    if not args.ok:
        return None
    v = args.values
    return model.Environment(
        key,
        v["name"],
        v.get("label"),
        v.get("runtime_id"),
        v.get("error_logger_id"),
        v.get("log_destination_ids", ()),
        v.get("integrations", {}),
        at,
    )


def build_target(reader: Reader, key: str, args: Args, at: Location) -> model.Target | None:
    """A ``sym_target``, with its type's own checks."""
    if check_type(reader, args, schema.address("sym_target", key), "target", schema.TARGET_TYPES):
        check_aws_target(reader, schema.address("sym_target", key), args, at)
        check_api_target(reader, schema.address("sym_target", key), args, at)
    if not args.ok:
        return None
    v = args.values
    return model.Target(
        key,
        v["name"],
        v["type"],
        v.get("label"),
        v.get("settings", {}),
        v.get("field_bindings", ()),
        at,
    )


def build_strategy(
    reader: Reader, checked: Checked, key: str, args: Args, at: Location
) -> model.Strategy | None:
    """A ``sym_strategy``: its targets must fit its type, then its type's own checks."""
    where = schema.address("sym_strategy", key)
    kind_of = partial(integration_kind, checked)
    if check_type(reader, args, where, "strategy", frozenset(schema.STRATEGY_TARGET_TYPES)):
        _strategy_targets(reader, checked, where, args)
        if args.values["type"] == "http":
            _http_settings(reader, where, args, at)
        elif args.values["type"] == "custom":
            check_custom_strategy(reader, where, args, at, kind_of)
        elif args.values["type"] in ("aws_sso", "aws_iam", "aws_lambda") and args.ok:
            check_aws_strategy(reader, where, args, at, kind_of)
        elif args.values["type"] == "google_group" and args.ok:
            check_google_strategy(
                reader, where, args, at, lambda ref: checked[("sym_integration", ref)]
            )
        elif args.values["type"] in API_STRATEGY_TYPES and args.ok:
            check_api_strategy(
                reader, where, args, at, lambda ref: checked[("sym_integration", ref)]
            )
        if "settings" in args.values:
            check_call_limits(reader, where, args, at)
    if not args.ok:
        return None
    v = args.values
    return model.Strategy(
        key,
        v["name"],
        v["type"],
        v.get("label"),
        v["targets"],
        v.get("integration_id"),
        v.get("settings", {}),
        v.get("implementation"),
        at,
        args.paths.get("implementation"),
    )


def _strategy_targets(reader: Reader, checked: Checked, where: str, args: Args) -> None:
    kind = args.values["type"]
    fits = schema.STRATEGY_TARGET_TYPES[kind]
    for target in args.values.get("targets", ()):
        target_type = checked[("sym_target", target)].values.get("type")
        if target_type is not None and target_type not in fits:
            reader.problem(
                args.lines["targets"],
                f"{where}: targets: sym_target.{target} has type {show(target_type)}, which a "
                f"{kind} strategy cannot grant (expected {known(fits)})",
            )
            args.ok = False


def _http_settings(reader: Reader, where: str, args: Args, at: Location) -> None:
    if "settings" in args.lines and "settings" not in args.values:
        return  # its problem is already reported
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    url = settings.get("url")
    if url is None:
        reader.problem(line, f"{where}: settings.url is required for http strategies")
    elif not isinstance(url, str) or not url.startswith(("http://", "https://")):
        reader.problem(line, f"{where}: settings.url: expected an http:// or https:// URL")
    secret = settings.get("signing_secret")
    if secret is None:
        reader.problem(line, f"{where}: settings.signing_secret is required for http strategies")
    elif not isinstance(secret, Secret):
        reader.problem(
            line,
            f'{where}: settings.signing_secret: must be read with env("NAME"), '
            "not written in the config",
        )
    if url is None or secret is None or not isinstance(secret, Secret):
        args.ok = False


def build_secret_source(
    reader: Reader, key: str, args: Args, at: Location
) -> model.SecretSource | None:
    """A ``sym_secrets`` source."""
    check_type(
        reader, args, schema.address("sym_secrets", key), "secrets", schema.SECRET_SOURCE_TYPES
    )
    v = args.values
    if not args.ok:
        return None
    return model.SecretSource(key, v["name"], v["type"], v.get("settings", {}), at)


def build_secret(key: str, args: Args, at: Location) -> model.SecretRef | None:
    """A ``sym_secret``."""
    v = args.values
    if not args.ok:
        return None
    return model.SecretRef(
        key, v["path"], v["source_id"], v.get("label"), v.get("settings", {}), at
    )


def build_flows_filter(key: str, args: Args, at: Location) -> model.FlowsFilter | None:
    """A ``sym_flows_filter``."""
    v = args.values
    if not args.ok:
        return None
    return model.FlowsFilter(
        key, v["implementation"], v.get("vars", {}), v.get("integrations", {}), at
    )
