"""Checks for custom strategies and the ``custom`` integrations they run with."""

from __future__ import annotations

import json
from collections.abc import Callable

from symbox.config.hcl import show
from symbox.config.hosts import parse_host_rule
from symbox.config.model import Location, Secret
from symbox.config.schema import Args, Reader


def check_custom_strategy(
    reader: Reader,
    where: str,
    args: Args,
    at: Location,
    integration_type: Callable[[str], str | None],
) -> None:
    """A custom strategy needs an implementation file and a ``custom`` integration."""
    if "implementation" not in args.lines:
        reader.problem(at, f'{where}: custom strategies need implementation = file("strategy.py")')
        args.ok = False
    integration = args.values.get("integration_id")
    if integration is None:
        if "integration_id" not in args.lines:
            reader.problem(
                at, f"{where}: custom strategies need integration_id (a custom sym_integration)"
            )
            args.ok = False
        return
    kind = integration_type(integration)
    if kind is not None and kind != "custom":
        reader.problem(
            args.lines["integration_id"],
            f"{where}: integration_id: sym_integration.{integration} has type {show(kind)}, "
            'expected "custom"',
        )
        args.ok = False


def check_custom_integration(
    reader: Reader, where: str, args: Args, at: Location, known_secret: Callable[[str], bool]
) -> None:
    """``allowed_hosts`` must be hosts; ``secrets`` ``env()`` values, or ``secret_ids_json``
    a JSON list of ``sym_secret`` ids."""
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    hosts = settings.get("allowed_hosts")
    if hosts is not None:
        if not isinstance(hosts, tuple) or not all(isinstance(item, str) for item in hosts):
            reader.problem(line, f"{where}: settings.allowed_hosts: expected a list of hosts")
            args.ok = False
        else:
            for entry in hosts:
                try:
                    parse_host_rule(entry)
                except ValueError as error:
                    reader.problem(line, f"{where}: settings.allowed_hosts: {error}")
                    args.ok = False
    secrets = settings.get("secrets")
    if secrets is not None and (
        not isinstance(secrets, tuple) or not all(isinstance(item, Secret) for item in secrets)
    ):
        reader.problem(line, f'{where}: settings.secrets: expected a list of env("NAME") secrets')
        args.ok = False
    ids = settings.get("secret_ids_json")
    if ids is not None:
        if secrets is not None:
            reader.problem(line, f"{where}: settings: use secrets or secret_ids_json, not both")
            args.ok = False
        try:
            keys = secret_keys(ids) if isinstance(ids, str) else None
        except ValueError as error:
            reader.problem(line, f"{where}: settings.secret_ids_json: {error}")
            args.ok = False
        else:
            if keys is None:
                reader.problem(
                    line,
                    f"{where}: settings.secret_ids_json: expected "
                    "jsonencode([sym_secret.NAME.id, ...])",
                )
                args.ok = False
            for key in keys or ():
                if not known_secret(key):
                    reader.problem(
                        line, f"{where}: settings.secret_ids_json: no resource sym_secret.{key}"
                    )
                    args.ok = False


def secret_keys(secret_ids_json: str) -> list[str]:
    """The ``sym_secret`` keys a ``secret_ids_json`` value lists, in order (ValueError if bad)."""
    try:
        ids = json.loads(secret_ids_json)
    except ValueError:
        raise ValueError("expected jsonencode([sym_secret.NAME.id, ...])") from None
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise ValueError("expected jsonencode([sym_secret.NAME.id, ...])")
    keys = []
    for item in ids:
        if not item.startswith("sym_secret."):
            raise ValueError(f"{item!r} is not a sym_secret id")
        keys.append(item.split(".", 1)[1])
    return keys
