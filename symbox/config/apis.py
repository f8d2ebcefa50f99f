"""Checks for the API strategies (okta, github, tailscale), their targets and integrations."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from symbox.config.hcl import show
from symbox.config.model import Location, Secret
from symbox.config.schema import Args, Reader

API_STRATEGY_TYPES = frozenset({"okta", "github", "tailscale"})
# Integrations whose API token symbox uses: the strategies', PagerDuty and KnowBe4 (hooks).
TOKEN_INTEGRATION_TYPES = API_STRATEGY_TYPES | {"pagerduty", "knowbe4"}
# KnowBe4's API regions, as Sym's knowbe4 integration names them in settings.region.
KNOWBE4_REGIONS = ("us", "eu", "ca", "uk", "de")
SECRET_PREFIX = "sym_secret."
TOKEN_OPTIONS = (
    'settings.api_token (api_token = env("NAME")) or settings.api_token_secret '
    "(api_token_secret = sym_secret.NAME.id)"
)
GITHUB_PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
# Settings each target type needs (unless a prompt field fills them).
TARGET_SETTINGS = {
    "okta_group": ("group_id",),
    "github_repo": ("repo_name",),
    "tailscale_group": ("group_name",),
}
_REPO = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9-]*/)?[A-Za-z0-9._-]+$")


def api_token(settings: Mapping[str, Any]) -> Secret | str | None:
    """An integration's API token: an ``env()`` Secret, a ``sym_secret`` key, or None."""
    token = settings.get("api_token")
    if isinstance(token, Secret):
        return token
    stored = settings.get("api_token_secret")
    if isinstance(stored, str) and stored.startswith(SECRET_PREFIX):
        return stored[len(SECRET_PREFIX) :]
    return None


def check_api_integration(
    reader: Reader, where: str, args: Args, at: Location, known_secret: Callable[[str], bool]
) -> None:
    """An API integration's token comes from ``env()`` or a ``sym_secret``; base_url is a URL."""
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    token = settings.get("api_token")
    if token is not None and not isinstance(token, Secret):
        reader.problem(
            line,
            f'{where}: settings.api_token: must be read with env("NAME"), not written in the '
            "config",
        )
        args.ok = False
    stored = settings.get("api_token_secret")
    if stored is not None:
        if token is not None:
            reader.problem(line, f"{where}: settings: use api_token or api_token_secret, not both")
            args.ok = False
        key = (
            stored[len(SECRET_PREFIX) :]
            if isinstance(stored, str) and stored.startswith(SECRET_PREFIX)
            else None
        )
        if key is None:
            reader.problem(
                line,
                f"{where}: settings.api_token_secret: expected a reference to a sym_secret "
                "(sym_secret.NAME.id)",
            )
            args.ok = False
        elif not known_secret(key):
            reader.problem(
                line, f"{where}: settings.api_token_secret: no resource sym_secret.{key}"
            )
            args.ok = False
    url = settings.get("base_url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        reader.problem(line, f"{where}: settings.base_url: expected an http:// or https:// URL")
        args.ok = False
    region = settings.get("region")
    if args.values.get("type") == "knowbe4" and url is None and region not in KNOWBE4_REGIONS:
        reader.problem(
            line, f"{where}: settings.region: expected one of {', '.join(KNOWBE4_REGIONS)}"
        )
        args.ok = False


def check_api_strategy(
    reader: Reader,
    where: str,
    args: Args,
    at: Location,
    integration: Callable[[str], Args],
) -> None:
    """An API strategy needs an integration of its own type with an API token."""
    kind = args.values["type"]
    settings = args.values.get("settings", {})
    for name in sorted(settings):
        reader.problem(
            args.lines.get("settings", at), f"{where}: settings.{name}: unknown setting for {kind}"
        )
        args.ok = False
    key = args.values.get("integration_id")
    if key is None:
        if "integration_id" not in args.lines:
            reader.problem(
                at,
                f"{where}: {kind} strategies need integration_id (the {kind} sym_integration "
                "with the API token)",
            )
            args.ok = False
        return
    values = integration(key).values
    found = values.get("type")
    if found is not None and found != kind:
        reader.problem(
            args.lines["integration_id"],
            f"{where}: integration_id: sym_integration.{key} has type {show(found)}, "
            f"expected {show(kind)}",
        )
        args.ok = False
    elif found is not None and not {"api_token", "api_token_secret"} & set(
        values.get("settings", {})
    ):
        reader.problem(
            args.lines["integration_id"],
            f"{where}: integration_id: sym_integration.{key} needs {TOKEN_OPTIONS} "
            f"for the {kind} strategy",
        )
        args.ok = False


def check_api_target(reader: Reader, where: str, args: Args, at: Location) -> None:
    """The settings an API strategy's target needs, in the shape the API takes."""
    kind = args.values.get("type") or ""
    needed = TARGET_SETTINGS.get(kind)
    if needed is None:
        return
    settings = args.values.get("settings", {})
    bound = set(args.values.get("field_bindings", ()))
    line = args.lines.get("settings", at)
    for name in needed:
        if settings.get(name) is None and name not in bound:
            reader.problem(line, f"{where}: settings.{name} is required for {kind} targets")
            args.ok = False
    for name, value in sorted(settings.items()):
        problem = _target_value(kind, name, value)
        if problem:
            reader.problem(line, f"{where}: settings.{name}: {problem}")
            args.ok = False


def _target_value(kind: str, name: str, value: Any) -> str | None:
    if name in TARGET_SETTINGS[kind] and (not isinstance(value, str) or not value):
        return "expected a non-empty string"
    if name == "repo_name" and not _REPO.match(value):
        return f"{show(value)} is not a repository name (OWNER/REPO, or REPO in the org)"
    if kind == "tailscale_group" and name == "group_name" and not value.startswith("group:"):
        return f'{show(value)}: a Tailscale group name starts with "group:"'
    if kind == "github_repo" and name == "permission" and value not in GITHUB_PERMISSIONS:
        return f"{show(value)}: expected one of {', '.join(GITHUB_PERMISSIONS)}"
    return None
