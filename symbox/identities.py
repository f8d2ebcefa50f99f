"""Who each user is in the systems strategies grant in: stored identities and derived rules.

An operator sets a user's identity per system with ``symbox users``; a strategy reads it
through ``IdentityMap`` and falls back on its system's rule (Okta: the email is the login;
GitHub: no rule, so a username must be set; Tailscale and Google: the email is the login;
OneLogin: the user with that email, or an operator sets another email or a username;
Aptible: the user with that email in the organization, or another email an operator sets).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from symbox.audit.entry import system_entry
from symbox.engine.model import Actor
from symbox.engine.people import canonical_email
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer

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


class IdentityInUse(Exception):
    """Changing the identity would strand access granted under the old one."""


@dataclass(frozen=True)
class Change:
    """One identity set or removed."""

    system: str
    identity: str | None
    previous: str | None


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


def _entry(name: str, change: Change, email: str, actor: Actor, now: float) -> dict[str, object]:
    return system_entry(
        "identity",
        name,
        actor=actor,
        at=now,
        channel="cli",
        fields={
            "email": email,
            "system": change.system,
            "identity": change.identity,
            "previous": change.previous,
        },
    )


def _guard(txn: WriteTxn, email: str, system: str, force: bool) -> None:
    if force:
        return
    run_id = txn.live_grant_of(email)
    if run_id is not None:
        # Grants record the identity they were made to, but one made before identities were
        # recorded is revoked by the identity in force when it ends: changing it now could
        # leave that access in place, so the operator must say they mean it.
        raise IdentityInUse(
            f"{email} holds access from run {run_id}: change their {SYSTEMS[system].what} "
            "after it ends, or pass --force and remove that access by hand"
        )


async def set_identities(
    writer: Writer,
    email: str,
    identities: Mapping[str, str],
    *,
    now: float,
    actor: Actor,
    force: bool = False,
) -> list[Change]:
    """Store identities for ``email`` (all or none); return what changed, each audited."""
    email = normalise_email(email)
    wanted = {system: check_identity(system, value) for system, value in identities.items()}

    def job(txn: WriteTxn) -> list[Change]:
        changes: list[Change] = []
        for system, identity in sorted(wanted.items()):
            previous = txn.identity_of(email, system)
            if previous == identity:
                continue
            _guard(txn, email, system, force)
            txn.set_identity(email, system, identity, now)
            change = Change(system, identity, previous)
            txn.append_audit(_entry("identity_set", change, email, actor, now))
            changes.append(change)
        return changes

    return await writer.submit(job)


async def unset_identities(
    writer: Writer,
    email: str,
    systems: Sequence[str],
    *,
    now: float,
    actor: Actor,
    force: bool = False,
) -> list[Change]:
    """Remove identities of ``email`` (all or none); return what was removed, each audited."""
    email = normalise_email(email)
    for system in systems:
        if system not in SYSTEMS:
            raise ValueError(f"unknown system {system!r}")

    def job(txn: WriteTxn) -> list[Change]:
        changes: list[Change] = []
        for system in sorted(set(systems)):
            previous = txn.identity_of(email, system)
            if previous is None:
                continue
            _guard(txn, email, system, force)
            txn.unset_identity(email, system)
            change = Change(system, None, previous)
            txn.append_audit(_entry("identity_unset", change, email, actor, now))
            changes.append(change)
        return changes

    return await writer.submit(job)
