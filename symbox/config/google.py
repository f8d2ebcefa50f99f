"""Checks for the ``google_group`` strategy and its ``google`` integration (its targets are
checked with the other API targets, in ``symbox.config.apis``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from symbox.config.apis import SECRET_PREFIX
from symbox.config.call_limits import LIMIT_SETTINGS
from symbox.config.hcl import show
from symbox.config.model import Location, Secret
from symbox.config.schema import Args, Reader

STRATEGY = "google_group"
INTEGRATION = "google"
KEY_OPTIONS = (
    'settings.service_account_key (service_account_key = env("NAME")) or '
    "settings.service_account_key_secret (service_account_key_secret = sym_secret.NAME.id)"
)


def stored_key(settings: Mapping[str, Any]) -> str | None:
    """The key of the ``sym_secret`` holding the service account key, if one is named."""
    stored = settings.get("service_account_key_secret")
    if isinstance(stored, str) and stored.startswith(SECRET_PREFIX):
        return stored[len(SECRET_PREFIX) :]
    return None


def check_google_integration(
    reader: Reader, where: str, args: Args, at: Location, known_secret: Callable[[str], bool]
) -> None:
    """A google integration: the admin to act as, one service account key, base_url a URL."""
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)

    def problem(message: str) -> None:
        reader.problem(line, f"{where}: {message}")
        args.ok = False

    admin = settings.get("admin_email")
    if admin is None:
        problem(
            "settings.admin_email is required (the Workspace admin the service account acts "
            "as through domain-wide delegation)"
        )
    elif not isinstance(admin, Secret) and (
        not isinstance(admin, str) or "@" not in admin.strip("@")
    ):
        # An env() value is not checked: an import loads its config with stand-ins.
        problem(f"settings.admin_email: {show(admin)} is not an email address")
    key = settings.get("service_account_key")
    stored = settings.get("service_account_key_secret")
    if key is None and stored is None:
        problem(f"needs {KEY_OPTIONS}")
    elif key is not None and stored is not None:
        problem("settings: use service_account_key or service_account_key_secret, not both")
    elif key is not None and not isinstance(key, Secret):
        problem(
            'settings.service_account_key: must be read with env("NAME"), not written in the config'
        )
    elif stored is not None:
        secret = stored_key(settings)
        if secret is None:
            problem(
                "settings.service_account_key_secret: expected a reference to a sym_secret "
                "(sym_secret.NAME.id)"
            )
        elif not known_secret(secret):
            problem(f"settings.service_account_key_secret: no resource sym_secret.{secret}")
    url = settings.get("base_url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        problem("settings.base_url: expected an http:// or https:// URL")


def check_google_strategy(
    reader: Reader,
    where: str,
    args: Args,
    at: Location,
    integration: Callable[[str], Args],
) -> None:
    """A google_group strategy takes only call limits as settings, and a ``google`` integration."""
    settings = args.values.get("settings", {})
    for name in sorted(set(settings) - LIMIT_SETTINGS):
        reader.problem(
            args.lines.get("settings", at),
            f"{where}: settings.{name}: unknown setting for {STRATEGY}",
        )
        args.ok = False
    key = args.values.get("integration_id")
    if key is None:
        if "integration_id" not in args.lines:
            reader.problem(
                at,
                f"{where}: {STRATEGY} strategies need integration_id (the {INTEGRATION} "
                "sym_integration with the service account key)",
            )
            args.ok = False
        return
    found = integration(key).values.get("type")
    if found is not None and found != INTEGRATION:
        reader.problem(
            args.lines["integration_id"],
            f"{where}: integration_id: sym_integration.{key} has type {show(found)}, "
            f"expected {show(INTEGRATION)}",
        )
        args.ok = False
