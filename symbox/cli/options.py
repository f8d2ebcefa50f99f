"""What the ``symbox`` commands share: the config, variables and data-folder options,
the operator acting, and how failures and tables are printed."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symbox.config.variables import VAR, VAR_FILE, VarOption, parse_var
from symbox.engine.model import Actor

DEFAULT_CONFIG = "config.hcl"
DEFAULT_DATA_DIR = "symbox-data"


def operator() -> Actor:
    """The person running the command, as the audit records name them."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = str(os.getuid())
    return Actor("operator", name)


def add_config(parser: argparse.ArgumentParser) -> None:
    """Add ``--config``."""
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help=f"config file, or folder of *.tf and *.hcl files (default: {DEFAULT_CONFIG})",
    )


class VarOptionAction(argparse.Action):
    """Collects --var and --var-file in command-line order: a later one wins, as in Terraform."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        option = VarOption(str(self.const), str(values))
        if option.kind == VAR:
            try:
                parse_var(option.text)
            except ValueError as error:
                parser.error(str(error))
        given = getattr(namespace, self.dest, None) or []
        setattr(namespace, self.dest, [*given, option])


def add_variables(parser: argparse.ArgumentParser) -> None:
    """Add ``--var`` and ``--var-file``."""
    for flag, kind, metavar, what in (
        ("--var", VAR, "NAME=VALUE", "set a variable (repeatable)"),
        ("--var-file", VAR_FILE, "FILE", "read variables from a tfvars file (repeatable)"),
    ):
        parser.add_argument(
            flag,
            dest="variables",
            action=VarOptionAction,
            const=kind,
            default=[],
            metavar=metavar,
            help=f"{what}; later ones win over earlier ones and over tfvars files in the folder",
        )


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-dir``."""
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("SYMBOX_DATA_DIR", DEFAULT_DATA_DIR),
        type=Path,
        help=f"state folder (default: $SYMBOX_DATA_DIR or ./{DEFAULT_DATA_DIR})",
    )


def fail(message: str) -> int:
    """Print ``message`` as the command's error; the exit status 1."""
    print(f"symbox: {message}", file=sys.stderr)
    return 1


def report_problems(problems: list[str]) -> int:
    """Print every config problem and their count; the exit status 1."""
    for problem in problems:
        print(problem, file=sys.stderr)
    count = len(problems)
    print(f"{count} problem{'s' if count != 1 else ''} found", file=sys.stderr)
    return 1


def table(rows: Sequence[dict[str, Any]], columns: list[str]) -> None:
    """Print ``rows`` as aligned columns under upper-case headings."""
    cells = [
        [("" if row.get(col) is None else str(row.get(col))) for col in columns] for row in rows
    ]
    widths = [max([len(col)] + [len(cell[i]) for cell in cells]) for i, col in enumerate(columns)]
    print("  ".join(col.upper().ljust(width) for col, width in zip(columns, widths, strict=True)))
    for cell in cells:
        print("  ".join(value.ljust(width) for value, width in zip(cell, widths, strict=True)))
