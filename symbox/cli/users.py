"""``symbox users``: set, remove and list users' identities in the systems symbox grants in.

Each change is audited, and refused while a grant depends on the identity it replaces.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from symbox.app import DATABASE_NAME
from symbox.audit.entry import system_entry
from symbox.cli.options import add_data_dir, fail, operator, table
from symbox.config.durations import iso
from symbox.engine.model import Actor
from symbox.store.handle import open_store
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer
from symbox.strategies.identities import SYSTEMS, check_identity, normalise_email


class IdentityInUse(Exception):
    """Changing the identity would strand access granted under the old one."""


@dataclass(frozen=True)
class Change:
    """One identity set or removed."""

    system: str
    identity: str | None
    previous: str | None


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


def add_users_command(commands: Any) -> None:
    """Add ``users set``, ``users unset`` and ``users list`` to the command parser."""
    users = commands.add_parser("users", help="set, remove and list users' identities")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    setting = actions.add_parser("set", help="set a user's identity in one or more systems")
    setting.add_argument("email")
    for system in SYSTEMS.values():
        setting.add_argument(
            f"--{system.name}",
            metavar=system.what.split()[-1].upper(),
            help=f"their {system.what} (e.g. {system.example})",
        )
    unsetting = actions.add_parser("unset", help="remove a user's identity in some systems")
    unsetting.add_argument("email")
    for system in SYSTEMS.values():
        rule = system.rule or "none: the user can no longer be granted access there"
        unsetting.add_argument(
            f"--{system.name}",
            action="store_true",
            help=f"remove their {system.what} (the rule applies again: {rule})",
        )
    for parser in (setting, unsetting):
        parser.add_argument(
            "--force",
            action="store_true",
            help="change it even while the user holds access (revokes then miss that access)",
        )
    listing = actions.add_parser("list", help="list the identities that are set")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for parser in (setting, unsetting, listing):
        add_data_dir(parser)


def _show(email: str, changes: list[Change]) -> None:
    if not changes:
        print(f"{email}: nothing changed")
    for change in changes:
        what = SYSTEMS[change.system].what
        before = change.previous or "none"
        print(f"{email}: {what} {change.identity or 'removed'} (was {before})")


def cmd_users(args: argparse.Namespace) -> int:
    """Run one ``symbox users`` action against the data folder's database."""
    database: Path = args.data_dir / DATABASE_NAME
    if not database.exists():
        return fail(f"no database at {database}: start symbox run first, or fix --data-dir")
    email = ""
    if args.users_command != "list":
        try:
            email = normalise_email(args.email)
        except ValueError as error:
            return fail(str(error))

    async def set_() -> int:
        wanted = {
            name: check_identity(name, getattr(args, name))
            for name in SYSTEMS
            if getattr(args, name)
        }
        if not wanted:
            flags = " or ".join(f"--{name}" for name in SYSTEMS)
            return fail(f"say which identity to set: {flags}")
        return await change(partial(set_identities, identities=wanted))

    async def unset() -> int:
        systems = [name for name in SYSTEMS if getattr(args, name)]
        if not systems:
            flags = " or ".join(f"--{name}" for name in SYSTEMS)
            return fail(f"say which identity to remove: {flags}")
        return await change(partial(unset_identities, systems=systems))

    async def change(apply: Callable[..., Awaitable[list[Change]]]) -> int:
        """Apply one set or unset in the store and show what changed."""
        async with open_store(database) as store:
            try:
                changes = await apply(
                    store.writer, email, now=time.time(), actor=operator(), force=args.force
                )
            except IdentityInUse as error:
                return fail(str(error))
        _show(email, changes)
        return 0

    async def listing() -> int:
        async with open_store(database) as store:
            rows = [
                {"email": email, "system": system, "identity": identity, "updated_at": iso(at)}
                for email, system, identity, at in await store.reader.list_identities()
            ]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            table(rows, ["email", "system", "identity", "updated_at"])
        return 0

    actions = {"set": set_, "unset": unset, "list": listing}
    try:
        return anyio.run(actions[args.users_command])
    except (ValueError, sqlite3.Error) as error:
        return fail(str(error))
