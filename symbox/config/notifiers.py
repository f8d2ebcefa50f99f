"""Checks for the ``webhook`` and ``smtp`` integrations, and for flows that notify through them."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from symbox.config.destinations import number, unknown_or_missing
from symbox.config.model import Location, Secret
from symbox.config.schema import Args, Reader

NOTIFIER_TYPES = frozenset({"webhook", "smtp"})
WEBHOOK_FORMATS = ("gchat", "json", "teams")
SETTINGS: Mapping[str, frozenset[str]] = {
    "webhook": frozenset({"url", "format", "secret", "timeout"}),
    "smtp": frozenset(
        {"host", "port", "starttls", "username", "password", "from", "timeout", "ca_file"}
    ),
}
REQUIRED: Mapping[str, tuple[str, ...]] = {"webhook": ("url",), "smtp": ("host", "from")}
# One address, as a From header names it: "Name <a@b>" or "a@b".
_ADDRESS = re.compile(r"^(?:[^<>@]*<)?[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>?$")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (plain HTTP is allowed to it, for local receivers)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "settings.url: expected an https:// URL"
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return None
    return "settings.url: expected an https:// URL (plain http:// only to a loopback address)"


def _problems(kind: str, settings: Mapping[str, Any]) -> list[str]:
    problems = unknown_or_missing(kind, settings, SETTINGS[kind], REQUIRED[kind], "integrations")
    for name in ("secret", "password"):
        if name in settings and not isinstance(settings[name], Secret):
            problems.append(f'settings.{name}: must be read with env("NAME"), not written')
    timeout = settings.get("timeout")
    if timeout is not None and not (number(timeout) and 0 < timeout <= 300):
        problems.append("settings.timeout: expected seconds above 0, at most 300")
    if kind == "webhook":
        if "url" in settings and (problem := _url_problem(settings["url"])):
            problems.append(problem)
        shape = settings.get("format", "json")
        if shape not in WEBHOOK_FORMATS:
            problems.append(f"settings.format: expected one of {', '.join(WEBHOOK_FORMATS)}")
        return problems
    host = settings.get("host")
    if host is not None and not (isinstance(host, str) and host and " " not in host):
        problems.append("settings.host: expected a host name or address")
    port = settings.get("port")
    if port is not None and not (
        isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    ):
        problems.append("settings.port: expected a port number from 1 to 65535")
    if "starttls" in settings and not isinstance(settings["starttls"], bool):
        problems.append("settings.starttls: expected true or false")
    sender = settings.get("from")
    if sender is not None and not (isinstance(sender, str) and _ADDRESS.match(sender)):
        problems.append('settings.from: expected an email address ("symbox@corp.example")')
    username = settings.get("username")
    if username is not None and not (isinstance(username, str | Secret) and username):
        problems.append("settings.username: expected a string or env()")
    ca_file = settings.get("ca_file")
    if ca_file is not None and not (isinstance(ca_file, str) and os.path.isfile(ca_file)):
        problems.append(
            f"settings.ca_file: no such file {ca_file!r} (the PEM certificates to trust)"
        )
    if ("username" in settings) != ("password" in settings):
        problems.append("settings.username and settings.password are set together")
    return problems


def check_notifier_integration(reader: Reader, where: str, args: Args, at: Location) -> None:
    """A webhook's URL, format and secret; an SMTP server's host, port, sender and login."""
    settings = args.values.get("settings", {})
    line = args.lines.get("settings", at)
    for problem in _problems(args.values["type"], settings):
        reader.problem(line, f"{where}: {problem}")
        args.ok = False
