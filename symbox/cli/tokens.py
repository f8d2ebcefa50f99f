"""``symbox tokens``: issue, list and revoke API tokens (the actions, also used by tests)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
import uuid
from typing import Any

import anyio

from symbox.app import DATABASE_NAME
from symbox.audit.entry import system_entry
from symbox.cli.options import add_data_dir, fail, operator, table
from symbox.config import parse_duration
from symbox.config.durations import iso
from symbox.config.people import BOT_NAME, InvalidEmail, canonical_email
from symbox.engine.model import Actor
from symbox.store.handle import open_store
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer
from symbox.tokens import TokenRecord, hash_secret, new_secret


async def issue_token(
    writer: Writer,
    *,
    kind: str,
    subject: str,
    label: str | None,
    now: float,
    expires_in: int | None,
    issued_by: Actor,
) -> tuple[str, TokenRecord]:
    """Create a token; return its secret (shown once, never stored) and its record.

    A user token's email must be one symbox accepts (InvalidEmail, a ValueError, if not).
    """
    if kind not in ("user", "bot"):
        raise ValueError(f"token kind must be user or bot, not {kind!r}")
    secret = new_secret()
    record = TokenRecord(
        id=f"tok_{uuid.uuid4().hex[:16]}",
        secret_hash=hash_secret(secret),
        kind=kind,
        subject=canonical_email(subject) if kind == "user" else subject.strip(),
        label=label,
        created_at=now,
        expires_at=None if expires_in is None else now + expires_in,
        revoked_at=None,
    )
    entry = system_entry(
        "token",
        "token_issue",
        actor=issued_by,
        at=now,
        channel="cli",
        fields={
            "token_id": record.id,
            "kind": record.kind,
            "subject": record.subject,
            "label": label,
            "expires_at": record.expires_at,
        },
    )

    def job(txn: WriteTxn) -> None:
        txn.insert_token(record)
        txn.append_audit(entry)

    await writer.submit(job)
    return secret, record


async def revoke_token(writer: Writer, token_id: str, *, now: float, revoked_by: Actor) -> bool:
    """Revoke a token by id; return False if there was no such live token."""
    entry = system_entry(
        "token",
        "token_revoke",
        actor=revoked_by,
        at=now,
        channel="cli",
        fields={"token_id": token_id},
    )

    def job(txn: WriteTxn) -> bool:
        if not txn.revoke_token(token_id, now):
            return False
        txn.append_audit(entry)
        return True

    return await writer.submit(job)


def add_tokens_command(commands: Any) -> None:
    """Add ``symbox tokens issue``, ``list`` and ``revoke``."""
    tokens = commands.add_parser("tokens", help="issue, list and revoke API tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    issue = token_commands.add_parser("issue", help="issue a token (printed once)")
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the token acts as this user (an email)")
    who.add_argument("--bot", help="the token acts as this bot (a name)")
    issue.add_argument("--expires", default="90d", help="lifetime, e.g. 30d, 12h (default: 90d)")
    issue.add_argument("--label", help="what the token is for")
    add_data_dir(issue)
    listing = token_commands.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_data_dir(listing)
    revoke = token_commands.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    add_data_dir(revoke)


def cmd_tokens(args: argparse.Namespace) -> int:
    """Issue, list or revoke tokens in the data folder's database."""
    database = args.data_dir / DATABASE_NAME
    if not database.exists():
        return fail(f"no database at {database}: start symbox run first, or fix --data-dir")
    if getattr(args, "user", None):
        try:
            canonical_email(args.user)
        except InvalidEmail as error:
            return fail(f"--user {error}")
    if getattr(args, "bot", None) and not BOT_NAME.match(args.bot):
        return fail(f"--bot {args.bot!r}: use letters, digits, '.', '_' and '-' (at most 64)")

    async def issue() -> int:
        expires = None if args.expires in ("never", "0") else parse_duration(args.expires)
        async with open_store(database) as store:
            secret, record = await issue_token(
                store.writer,
                kind="user" if args.user else "bot",
                subject=args.user or args.bot,
                label=args.label,
                now=time.time(),
                expires_in=expires,
                issued_by=operator(),
            )
        print(secret)
        expiry = "never" if record.expires_at is None else iso(record.expires_at)
        print(
            f"token {record.id} for {record.kind} {record.subject}, expires {expiry}",
            file=sys.stderr,
        )
        return 0

    async def listing() -> int:
        async with open_store(database) as store:
            tokens = await store.reader.list_tokens()
        now = time.time()
        rows = [
            {
                "id": token.id,
                "state": _token_state(token.revoked_at, token.expires_at, now),
                "kind": token.kind,
                "subject": token.subject,
                "label": token.label,
                "created_at": iso(token.created_at),
                "expires_at": None if token.expires_at is None else iso(token.expires_at),
                "revoked_at": None if token.revoked_at is None else iso(token.revoked_at),
                "last_used_at": None if token.last_used_at is None else iso(token.last_used_at),
            }
            for token in tokens
        ]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            columns = ["id", "state", "kind", "subject", "label", "expires_at", "last_used_at"]
            table(rows, columns)
        return 0

    async def revoke() -> int:
        async with open_store(database) as store:
            done = await revoke_token(
                store.writer, args.token_id, now=time.time(), revoked_by=operator()
            )
        if not done:
            return fail(f"no live token {args.token_id!r}")
        print(f"revoked {args.token_id}")
        return 0

    actions = {"issue": issue, "list": listing, "revoke": revoke}
    try:
        return anyio.run(actions[args.tokens_command])
    except (ValueError, sqlite3.Error) as error:
        return fail(str(error))


def _token_state(revoked_at: float | None, expires_at: float | None, now: float) -> str:
    if revoked_at is not None:
        return "revoked"
    return "expired" if expires_at is not None and expires_at <= now else "active"
