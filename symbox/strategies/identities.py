"""Who each user is in the systems strategies grant in: the systems, their rules, the reads.

An operator sets a user's identity per system with ``symbox users``; a strategy reads it
through ``IdentityMap`` and falls back on its system's rule (Okta: the email is the login;
GitHub: no rule, so a username must be set; Tailscale and Google: the email is the login;
OneLogin: the user with that email, or an operator sets another email or a username;
Aptible: the user with that email in the organization, or another email an operator sets).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from symbox.config.people import canonical_email

_GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_OKTA_LOGIN = re.compile(r"^\S{1,100}$")
# Tailscale login names: an email, or a provider's form such as ``alice@github``.
_TAILSCALE_LOGIN = re.compile(r"^[^\s@]{1,100}@[^\s@]{1,200}$")
# OneLogin users are found by email or by username, which may be any text without spaces.
_ONELOGIN_USER = re.compile(r"^\S{1,255}$")
_APTIBLE_EMAIL = re.compile(r"^[^\s@]{1,100}@[^\s@]{1,200}$")
# Google group members are email addresses (a Workspace account, or one outside it).
_GOOGLE_EMAIL = re.compile(r"^[^\s@]{1,64}@[^\s@]+\.[^\s@]{1,200}$")


@dataclass(frozen=True)
class System:
    """A system users have an identity in, as ``symbox users`` shows and checks it."""

    name: str
    what: str
    # How the identity follows from the email when none is set; None: it must be set.
    rule: str | None
    pattern: re.Pattern[str]
    example: str


OKTA = "okta"
GITHUB = "github"
TAILSCALE = "tailscale"
ONELOGIN = "onelogin"
APTIBLE = "aptible"
GOOGLE = "google"
SYSTEMS: Mapping[str, System] = {
    OKTA: System(OKTA, "Okta login", "the email address", _OKTA_LOGIN, "ann@corp.example"),
    GITHUB: System(GITHUB, "GitHub username", None, _GITHUB_LOGIN, "octocat"),
    TAILSCALE: System(
        TAILSCALE, "Tailscale login", "the email address", _TAILSCALE_LOGIN, "ann@github"
    ),
    ONELOGIN: System(ONELOGIN, "OneLogin login", "the email address", _ONELOGIN_USER, "ann.lee"),
    APTIBLE: System(
        APTIBLE, "Aptible email", "the email address", _APTIBLE_EMAIL, "ann@corp.example"
    ),
    GOOGLE: System(
        GOOGLE, "Google account email", "the email address", _GOOGLE_EMAIL, "ann@corp.example"
    ),
}


class IdentityMap(Protocol):
    """Stored identities, read by strategies when they grant and revoke."""

    async def identity_of(self, email: str, system: str) -> str | None:
        """The identity set for ``email`` in ``system``, or None."""
        ...


class IdentityDirectory(Protocol):
    """Stored identities read the other way: who in symbox holds an identity in a system."""

    async def identities_in(self, system: str) -> list[tuple[str, str]]:
        """Every (email, identity) set in ``system``."""
        ...


def normalise_email(email: str) -> str:
    """The email as tokens and runs hold it (InvalidEmail, a ValueError, if symbox refuses it)."""
    return canonical_email(email)


def check_identity(system: str, value: str) -> str:
    """The identity as stored, or ValueError naming what is wrong with it."""
    known = SYSTEMS.get(system)
    if known is None:
        raise ValueError(f"unknown system {system!r} (known: {', '.join(sorted(SYSTEMS))})")
    value = value.strip()
    if not known.pattern.match(value):
        raise ValueError(f"{value!r} is not a valid {known.what} (e.g. {known.example})")
    return value
