"""``symbox users``: set, remove and list users' identities in the systems symbox grants in."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from symbox.app import DATABASE_NAME
from symbox.audit.entry import iso
from symbox.engine.model import Actor
from symbox.identities import (
    SYSTEMS,
    Change,
    IdentityInUse,
    check_identity,
    normalise_email,
    set_identities,
    unset_identities,
)
from symbox.store.handle import open_store

Table = Callable[[Sequence[dict[str, Any]], list[str]], None]


def add_users_command(
    commands: Any, add_data_dir: Callable[[argparse.ArgumentParser], None]
) -> None:
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


def _fail(message: str) -> int:
    print(f"symbox: {message}", file=sys.stderr)
    return 1


def _show(email: str, changes: list[Change]) -> None:
    if not changes:
        print(f"{email}: nothing changed")
    for change in changes:
        what = SYSTEMS[change.system].what
        before = change.previous or "none"
        print(f"{email}: {what} {change.identity or 'removed'} (was {before})")


def cmd_users(args: argparse.Namespace, operator: Actor, table: Table) -> int:
    """Run one ``symbox users`` action against the data folder's database."""
    database: Path = args.data_dir / DATABASE_NAME
    if not database.exists():
        return _fail(f"no database at {database}: start symbox run first, or fix --data-dir")
    email = ""
    if args.users_command != "list":
        try:
            email = normalise_email(args.email)
        except ValueError as error:
            return _fail(str(error))

    async def set_() -> int:
        wanted = {
            name: check_identity(name, getattr(args, name))
            for name in SYSTEMS
            if getattr(args, name)
        }
        if not wanted:
            flags = " or ".join(f"--{name}" for name in SYSTEMS)
            return _fail(f"say which identity to set: {flags}")
        return await change(partial(set_identities, identities=wanted))

    async def unset() -> int:
        systems = [name for name in SYSTEMS if getattr(args, name)]
        if not systems:
            flags = " or ".join(f"--{name}" for name in SYSTEMS)
            return _fail(f"say which identity to remove: {flags}")
        return await change(partial(unset_identities, systems=systems))

    async def change(apply: Callable[..., Awaitable[list[Change]]]) -> int:
        """Apply one set or unset in the store and show what changed."""
        async with open_store(database) as store:
            try:
                changes = await apply(
                    store.writer, email, now=time.time(), actor=operator, force=args.force
                )
            except IdentityInUse as error:
                return _fail(str(error))
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
        return _fail(str(error))
