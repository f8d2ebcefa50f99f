"""Checks for the AWS strategies, their targets and ``permission_context`` integrations."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from symbox.config.call_limits import LIMIT_SETTINGS
from symbox.config.hcl import show
from symbox.config.model import Location, Secret
from symbox.config.schema import Args, Reader

STRATEGY_SETTINGS = {
    "aws_sso": frozenset(
        {"instance_arn", "identity_store_id", "user_mapping", "region", "endpoint_url"}
    ),
    "aws_iam": frozenset({"user_mapping", "region", "endpoint_url"}),
    "aws_lambda": frozenset({"region", "endpoint_url"}),
}
SSO_MAPPINGS = ("user_name", "email")
IAM_MAPPINGS = ("user_name", "local_part", "tag:KEY")
# Settings each AWS target type needs (unless a prompt field fills them).
TARGET_SETTINGS = {
    "aws_sso_permission_set": ("permission_set_arn", "account_id"),
    "aws_sso_group": ("group_id",),
    "aws_iam_group": ("iam_group",),
    "aws_lambda_function": ("arn",),
}
_INSTANCE_ARN = re.compile(r"^arn:aws[a-z-]*:sso:::instance/\S+$")
# AWS writes arn:aws:sso:::permissionSet/ssoins-.../ps-...; only the ends are checked.
_PERMISSION_SET_ARN = re.compile(r"^arn:aws[a-z-]*:sso:::\S+/ps-[0-9a-z]+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
# A function ARN, optionally with a version or alias.
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9_$-]+)?$"
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def check_aws_strategy(
    reader: Reader,
    where: str,
    args: Args,
    at: Location,
    integration_type: Callable[[str], str | None],
) -> None:
    """Known settings with sensible values, and a ``permission_context`` integration if any."""
    kind = args.values["type"]
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    problems: list[str] = []
    # The call limits every strategy takes are checked with every strategy's settings.
    for name in sorted(set(settings) - STRATEGY_SETTINGS[kind] - LIMIT_SETTINGS):
        allowed = ", ".join(sorted(STRATEGY_SETTINGS[kind]))
        problems.append(f"settings.{name}: unknown setting for {kind} (known: {allowed})")
    for name in ("region", "identity_store_id", "user_mapping", "instance_arn"):
        if name in settings and _text(settings[name]) is None:
            problems.append(f"settings.{name}: expected a non-empty string")
    url = settings.get("endpoint_url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        problems.append("settings.endpoint_url: expected an http:// or https:// URL")
    mapping = _text(settings.get("user_mapping"))
    if kind == "aws_sso":
        arn = settings.get("instance_arn")
        if arn is None:
            problems.append(
                'settings.instance_arn is required, e.g. "arn:aws:sso:::instance/ssoins-..."'
            )
        elif _text(arn) is not None and not _INSTANCE_ARN.match(arn):
            problems.append(f"settings.instance_arn: {show(arn)} is not an instance ARN")
        if mapping is not None and mapping not in SSO_MAPPINGS:
            problems.append(
                f"settings.user_mapping: {show(mapping)}: expected {' or '.join(SSO_MAPPINGS)}"
            )
    elif kind == "aws_iam" and mapping is not None and not _iam_mapping(mapping):
        problems.append(
            f"settings.user_mapping: {show(mapping)}: expected {', '.join(IAM_MAPPINGS)}"
        )
    for problem in problems:
        reader.problem(line, f"{where}: {problem}")
    integration = args.values.get("integration_id")
    if integration is not None:
        context = integration_type(integration)
        if context is not None and context != "permission_context":
            problems.append("integration")
            reader.problem(
                args.lines["integration_id"],
                f"{where}: integration_id: sym_integration.{integration} has type "
                f'{show(context)}, expected "permission_context" (the AWS role to assume)',
            )
    if problems:
        args.ok = False


def _iam_mapping(mapping: str) -> bool:
    return mapping in IAM_MAPPINGS[:2] or (mapping.startswith("tag:") and bool(mapping[4:].strip()))


def check_aws_target(reader: Reader, where: str, args: Args, at: Location) -> None:
    """The settings an AWS target type needs, with the shape AWS expects."""
    needed = TARGET_SETTINGS.get(args.values.get("type") or "")
    if needed is None:
        return
    settings = args.values.get("settings", {})
    bound = set(args.values.get("field_bindings", ()))
    line = args.lines.get("settings", at)
    kind = args.values["type"]
    for name in needed:
        value = settings.get(name)
        if value is None:
            if name not in bound:
                reader.problem(line, f"{where}: settings.{name} is required for {kind} targets")
                args.ok = False
            continue
        problem = _target_value(name, value)
        if problem:
            reader.problem(line, f"{where}: settings.{name}: {problem}")
            args.ok = False


def _target_value(name: str, value: Any) -> str | None:
    if name == "account_id":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
            return None  # written as a number; strategies pad it back to 12 digits
        if isinstance(value, str) and _ACCOUNT_ID.match(value):
            return None
        return f"{show(value)} is not a 12-digit AWS account id"
    if _text(value) is None:
        return "expected a non-empty string"
    if name == "permission_set_arn" and not _PERMISSION_SET_ARN.match(value):
        return f"{show(value)} is not a permission set ARN"
    if name == "arn" and not _FUNCTION_ARN.match(value):
        return f"{show(value)} is not a Lambda function ARN"
    return None


def check_permission_context(reader: Reader, where: str, args: Args, at: Location) -> None:
    """``settings.role_arn`` must be an IAM role ARN; ``external_id`` a string or secret."""
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    cloud = settings.get("cloud")
    if cloud is not None and cloud != "aws":
        reader.problem(line, f'{where}: settings.cloud: symbox supports "aws" only')
        args.ok = False
    role = settings.get("role_arn")
    if role is not None and not (isinstance(role, str) and _ROLE_ARN.match(role)):
        reader.problem(line, f"{where}: settings.role_arn: {show(role)} is not an IAM role ARN")
        args.ok = False
    external = settings.get("external_id")
    if external is not None and not isinstance(external, str | Secret):
        reader.problem(line, f"{where}: settings.external_id: expected a string")
        args.ok = False
