"""`allowed_hosts`: which hosts hooks and custom strategies may call over HTTP."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from symbox.config.model import Config

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HostRule:
    """One entry: an exact host or `*.domain` (subdomains only), and a port or any port."""

    host: str
    wildcard: bool
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        """Tell whether ``host:port`` (host lower-case, IPv6 without brackets) fits."""
        if self.port is not None and port != self.port:
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


def parse_host_rule(text: str) -> HostRule:
    """Read ``api.example.com``, ``api.example.com:8443``, ``*.example.com``, ``[::1]:80``."""
    entry = text.strip().lower()
    if not entry or "/" in entry or "@" in entry or "?" in entry or "#" in entry:
        raise ValueError(f"{text!r}: expected a host such as api.example.com or host:port")
    port: int | None = None
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if rest:
            port = _port(text, rest)
    elif entry.count(":") == 1:
        host, _, rest = entry.partition(":")
        port = _port(text, ":" + rest)
    else:
        host = entry
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    if "*" in name or not name or name.startswith(".") or name.endswith("."):
        raise ValueError(f"{text!r}: a wildcard must be written *.example.com")
    if ":" in name:
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            raise ValueError(f"{text!r}: not a host name or IP address") from None
        if wildcard:
            raise ValueError(f"{text!r}: a wildcard cannot apply to an IP address")
    return HostRule(name, wildcard, port)


def _port(text: str, rest: str) -> int:
    digits = rest[1:] if rest.startswith(":") else ""
    if not digits.isdigit() or not 0 < int(digits) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return int(digits)


class AllowList:
    """The hosts a call may reach; empty means none."""

    def __init__(self, rules: Iterable[HostRule] = ()) -> None:
        self._rules = tuple(rules)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Build from ``allowed_hosts`` strings; ValueError names the first bad entry."""
        return cls(parse_host_rule(entry) for entry in entries)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def __or__(self, other: AllowList) -> AllowList:
        return AllowList((*self._rules, *other._rules))

    def allows(self, host: str, port: int) -> bool:
        """Tell whether some rule lets a call reach ``host:port``."""
        lowered = host.lower()
        return any(rule.matches(lowered, port) for rule in self._rules)


def hook_allow_list(config: Config, environment: str) -> AllowList:
    """Hosts the hooks of ``environment``'s flows may call: its custom integrations' lists.

    A flow's hooks reach only what its own environment lists, so a staging flow's hooks
    cannot call a host only production's integration allows.
    """
    allowed = AllowList()
    env = config.environments.get(environment)
    listed = set(env.integrations.values()) if env is not None else set()
    for key in sorted(listed):
        integration = config.integrations.get(key)
        if integration is None or integration.type != "custom":
            continue
        hosts = integration.settings.get("allowed_hosts") or ()
        allowed = allowed | AllowList.parse(str(host) for host in hosts)
    return allowed
