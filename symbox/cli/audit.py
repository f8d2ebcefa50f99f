"""``symbox audit verify``: check an audit file's hash chain, and its end against the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import anyio

from symbox.app import DATABASE_NAME
from symbox.audit.destinations import AUDIT_FILE_NAME
from symbox.audit.ledger_check import check_delivery
from symbox.audit.verify import verify_file, verify_files
from symbox.cli.options import add_data_dir


def add_audit_command(commands: Any) -> None:
    """Add ``audit verify`` to the command parser."""
    audit = commands.add_parser("audit", help="audit log tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser("verify", help="check an audit file's hash chain")
    verify.add_argument(
        "path",
        type=Path,
        nargs="*",
        help="the audit file; rotated files too, oldest first, to check them as one chain "
        "(default: the data folder's audit.jsonl)",
    )
    verify.add_argument(
        "--destination",
        help="the log destination the file is, to hold its end against the database "
        "(default: the only file destination the database knows)",
    )
    add_data_dir(verify)


def cmd_audit(args: argparse.Namespace) -> int:
    """Verify an audit file's hash chain (several rotated files as one chain)."""
    paths: list[Path] = args.path or [args.data_dir / AUDIT_FILE_NAME]
    for path in paths:
        if not path.is_file():
            print(f"no such file: {path}", file=sys.stderr)
            return 1
    if len(paths) == 1:
        result = verify_file(paths[0])
        problem = f"{paths[0]}: {result.problem}"
    else:
        result = verify_files(paths)
        problem = str(result.problem)
    named = str(paths[0]) if len(paths) == 1 else f"{len(paths)} files"
    if not result.ok:
        print(problem, file=sys.stderr)
        return 1
    span = "" if result.first_seq is None else f" (seq {result.first_seq} to {result.last_seq})"
    print(f"{named}: {result.count} records verified{span}")
    return _held_against_database(args, paths[-1], result.last_seq)


def _held_against_database(args: argparse.Namespace, path: Path, last_seq: int | None) -> int:
    """Compare the (last) file's end with what the data folder's database delivered to it."""
    database = args.data_dir / DATABASE_NAME
    if not database.exists():
        print(f"note: no database at {database}: the file's end was not checked", file=sys.stderr)
        return 0
    checked = anyio.run(check_delivery, database, last_seq, args.destination)
    if isinstance(checked, str):
        print(f"note: {checked}: the file's end was not checked", file=sys.stderr)
        return 0
    if last_seq is None:
        # A file just rotated is empty while the database's cursor stays where it was.
        print(
            f"note: {path} holds no records; the database delivered to {checked.destination} "
            f"up to seq {checked.delivered_seq}: verify it with the rotated files before it",
            file=sys.stderr,
        )
        return 0
    if checked.problem is not None:
        print(f"{path}: {checked.problem}", file=sys.stderr)
        return 1
    print(
        f"{path}: ends where delivery to {checked.destination} stands (seq {checked.delivered_seq})"
    )
    return 0
