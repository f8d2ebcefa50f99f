"""``symbox import``: read the JSON and the project, write the folder, load what was written."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from symbox.config import ConfigError, load_config
from symbox.flowhooks.calls import check_implementations
from symbox.strategies.custom_source import check_custom_strategies
from symbox.tfimport.convert import ImportResult, import_document
from symbox.tfimport.state import StateError

# Folders of a Terraform project that hold no implementation files of the user's.
_SKIP = frozenset({".terraform", ".git", "node_modules", "__pycache__", ".venv"})
# Implementation files are small; a larger file is not one.
_MAX_FILE = 1 << 20


def add_import_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import`` to the command parser."""
    parser = commands.add_parser(
        "import", help="write a symbox folder from terraform show -json output of a Sym project"
    )
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        type=Path,
        help="terraform show -json output: a state, or a saved plan",
    )
    parser.add_argument(
        "--project", type=Path, help="the Terraform project folder, for implementation files"
    )
    parser.add_argument("--out", required=True, type=Path, help="the folder to write")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    parser.add_argument(
        "--keep-secrets",
        action="store_true",
        help="keep api_token_secret, client_secret_secret and password_secret = "
        "sym_secret.NAME.id (read from Secrets Manager) instead of env()",
    )


def cmd_import(args: argparse.Namespace) -> int:
    """Convert, write, then load the written config and say what happened."""
    try:
        document = json.loads(args.source.read_text(encoding="utf-8-sig"))
    except OSError as error:
        return _fail(f"{args.source}: cannot read: {error.strerror}")
    except ValueError as error:
        return _fail(f"{args.source}: not JSON: {error}")
    if args.project is not None and not args.project.is_dir():
        return _fail(f"--project {args.project}: no such folder")
    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        return _fail(f"{out} is not empty: choose an empty folder, or add --force to write into it")
    try:
        result = import_document(
            document, _project(args.project), args.source.name, keep_secrets=args.keep_secrets
        )
    except StateError as error:
        return _fail(f"{args.source}: {error}")
    try:
        _write(result, out)
    except OSError as error:
        return _fail(f"{out}: cannot write: {error.strerror}")
    for line in result.summary():
        print(line)
    problems = _check(result, out)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"{out / 'config.hcl'} does not load as written; see the problems above",
            file=sys.stderr,
        )
        return 1
    print(f"wrote {out}: config.hcl loads; set the variables of .env.example, then symbox validate")
    return 0


def _fail(message: str) -> int:
    print(f"symbox: {message}", file=sys.stderr)
    return 1


def _project(folder: Path | None) -> dict[str, str]:
    """The project's Python files by relative path: where implementations may come from."""
    if folder is None:
        return {}
    files: dict[str, str] = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if name not in _SKIP)
        for name in sorted(names):
            path = Path(root) / name
            if not name.endswith(".py") or path.stat().st_size > _MAX_FILE:
                continue
            try:
                files[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return files


def _write(result: ImportResult, out: Path) -> None:
    for name, text in result.files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _check(result: ImportResult, out: Path) -> list[str]:
    """Load the written config, with stand-ins for the secrets the operator has yet to set."""
    environ = dict(os.environ)
    for variable in result.env:
        environ.setdefault(variable.name, "unset-until-the-operator-sets-it")
    try:
        config = load_config(out / "config.hcl", environ=environ)
    except ConfigError as error:
        return [str(problem) for problem in error.problems]
    return check_implementations(config) + check_custom_strategies(config)
