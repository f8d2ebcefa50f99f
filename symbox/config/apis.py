"""Checks for the API strategies (okta, github, tailscale, onelogin, aptible, google_group)
and their parts (google_group's integration: ``symbox.config.google``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from symbox.config.call_limits import LIMIT_SETTINGS
from symbox.config.hcl import show
from symbox.config.model import Location, Secret
from symbox.config.schema import Args, Reader

API_STRATEGY_TYPES = frozenset(
    {"okta", "github", "tailscale", "onelogin", "aptible", "google_group"}
)
# Integrations that sign in with a name and a secret instead of an API token: the
# settings holding each, which the integration must have.
CREDENTIALS: Mapping[str, tuple[str, str]] = {
    "onelogin": ("client_id", "client_secret"),
    "aptible": ("username", "password"),
}
# Integrations whose credentials symbox uses: the strategies', PagerDuty and KnowBe4 (for
# hooks). google_group's integration (type google) holds a service account key instead.
TOKEN_INTEGRATION_TYPES = (API_STRATEGY_TYPES - {"google_group"}) | {"pagerduty", "knowbe4"}
# KnowBe4's API regions, as Sym's knowbe4 integration names them in settings.region.
KNOWBE4_REGIONS = ("us", "eu", "ca", "uk", "de")
SECRET_PREFIX = "sym_secret."
TOKEN_OPTIONS = (
    'settings.api_token (api_token = env("NAME")) or settings.api_token_secret '
    "(api_token_secret = sym_secret.NAME.id)"
)
GITHUB_PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
GOOGLE_ROLES = ("MEMBER", "MANAGER", "OWNER")
# Settings each target type needs (unless a prompt field fills them).
TARGET_SETTINGS = {
    "okta_group": ("group_id",),
    "github_repo": ("repo_name",),
    "tailscale_group": ("group_name",),
    "onelogin_role": ("role_id",),
    "aptible_role": ("role_id",),
    "google_group": ("group_email",),
}
# Sym's examples write a bare name ("prod"), the policy file "group:prod": both are read.
_GROUP = re.compile(r"^(?:group:)?[A-Za-z0-9][A-Za-z0-9._@-]*$")
_REPO = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9-]*/)?[A-Za-z0-9._-]+$")


def stored_secret(settings: Mapping[str, Any], name: str) -> Secret | str | None:
    """A secret setting: ``name`` from ``env()``, the sym_secret key of ``name_secret``, or None."""
    value = settings.get(name)
    if isinstance(value, Secret):
        return value
    # Sym also spells a secret setting as the sym_secret's id itself (client_secret = ...).
    stored = value if _is_reference(value) else settings.get(f"{name}_secret")
    if isinstance(stored, str) and stored.startswith(SECRET_PREFIX):
        return stored[len(SECRET_PREFIX) :]
    return None


def api_token(settings: Mapping[str, Any]) -> Secret | str | None:
    """An integration's API token: an ``env()`` Secret, a ``sym_secret`` key, or None."""
    return stored_secret(settings, "api_token")


def check_api_integration(
    reader: Reader, where: str, args: Args, at: Location, known_secret: Callable[[str], bool]
) -> None:
    """An API integration's secrets come from ``env()`` or a ``sym_secret``; base_url is a URL."""
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    kind = args.values.get("type")
    credentials = CREDENTIALS.get(kind) if isinstance(kind, str) else None
    if credentials is None:
        args.ok &= check_secret_setting(reader, where, settings, line, "api_token", known_secret)
    else:
        plain, secret = credentials
        value = settings.get(plain)
        if f"{plain}_secret" in settings or isinstance(value, Secret) or _is_reference(value):
            # Sym keeps even the user name in a sym_secret (aptible's username_secret).
            args.ok &= check_secret_setting(reader, where, settings, line, plain, known_secret)
        elif value is None:
            reader.problem(line, f"{where}: settings.{plain} is required for {kind} integrations")
            args.ok = False
        elif not isinstance(value, str) or not value:
            reader.problem(line, f"{where}: settings.{plain}: expected a non-empty string")
            args.ok = False
        args.ok &= check_secret_setting(reader, where, settings, line, secret, known_secret)
        if secret not in settings and f"{secret}_secret" not in settings:
            reader.problem(
                line,
                f'{where}: settings.{secret} ({secret} = env("NAME")) or settings.{secret}_secret '
                f"({secret}_secret = sym_secret.NAME.id) is required for {kind} integrations",
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


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SECRET_PREFIX)


def check_secret_setting(
    reader: Reader,
    where: str,
    settings: Mapping[str, Any],
    line: Location,
    name: str,
    known_secret: Callable[[str], bool],
) -> bool:
    """``name`` is read with ``env()``, or ``name_secret`` names a sym_secret; not both."""
    ok = True
    value = settings.get(name)
    if isinstance(value, str) and _is_reference(value):
        if f"{name}_secret" in settings:
            reader.problem(line, f"{where}: settings: use {name} or {name}_secret, not both")
            return False
        named = value[len(SECRET_PREFIX) :]
        if not known_secret(named):
            reader.problem(line, f"{where}: settings.{name}: no resource sym_secret.{named}")
            return False
        return ok
    if value is not None and not isinstance(value, Secret):
        reader.problem(
            line,
            f'{where}: settings.{name}: must be read with env("NAME"), not written in the config',
        )
        ok = False
    stored = settings.get(f"{name}_secret")
    if stored is None:
        return ok
    if value is not None:
        reader.problem(line, f"{where}: settings: use {name} or {name}_secret, not both")
        ok = False
    key = (
        stored[len(SECRET_PREFIX) :]
        if isinstance(stored, str) and stored.startswith(SECRET_PREFIX)
        else None
    )
    if key is None:
        reader.problem(
            line,
            f"{where}: settings.{name}_secret: expected a reference to a sym_secret "
            "(sym_secret.NAME.id)",
        )
        ok = False
    elif not known_secret(key):
        reader.problem(line, f"{where}: settings.{name}_secret: no resource sym_secret.{key}")
        ok = False
    return ok


def check_api_strategy(
    reader: Reader,
    where: str,
    args: Args,
    at: Location,
    integration: Callable[[str], Args],
) -> None:
    """An API strategy needs an integration of its own type with an API token (or credentials)."""
    kind = args.values["type"]
    what = "the API credentials" if kind in CREDENTIALS else "the API token"
    settings = args.values.get("settings", {})
    for name in sorted(set(settings) - LIMIT_SETTINGS):
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
                f"with {what})",
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
    elif (
        found is not None
        and kind not in CREDENTIALS
        and not {"api_token", "api_token_secret"} & set(values.get("settings", {}))
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
    if kind == "tailscale_group" and name == "group_name" and not _GROUP.match(value):
        return f'{show(value)}: expected a Tailscale group name ("prod" or "group:prod")'
    if kind == "google_group" and name == "group_email" and "@" not in value.strip("@"):
        return f"{show(value)} is not a group's email address"
    if kind == "google_group" and name == "role" and value not in GOOGLE_ROLES:
        return f"{show(value)}: expected one of {', '.join(GOOGLE_ROLES)}"
    if kind == "github_repo" and name == "permission" and value not in GITHUB_PERMISSIONS:
        return f"{show(value)}: expected one of {', '.join(GITHUB_PERMISSIONS)}"
    return None
