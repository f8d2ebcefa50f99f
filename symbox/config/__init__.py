"""Read ``config.hcl`` (or a folder of ``*.hcl``) into the validated, frozen Config model."""

from __future__ import annotations

import os
from collections.abc import Mapping

from symbox.config.durations import format_duration, parse_duration
from symbox.config.hcl import Block as _Block
from symbox.config.hcl import ConfigError, Problem, parse_file, sorted_problems
from symbox.config.model import Config
from symbox.config.validate import Builder

__all__ = ["ConfigError", "Problem", "format_duration", "load_config", "parse_duration"]


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read ``config.hcl`` (or every ``*.hcl`` of a folder) and validate it; raise ConfigError."""
    files = _discover(os.fspath(path))
    roots: list[_Block] = []
    problems: list[Problem] = []
    for name in files:
        try:
            with open(name, encoding="utf-8-sig") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            problems.append(Problem(None, f"{name}: cannot read: {reason}"))
            continue
        root, found = parse_file(text, name)
        problems.extend(found)
        if root is not None:
            roots.append(root)
    if problems:
        raise ConfigError(sorted_problems(problems, files))
    builder = Builder(files, roots, os.environ if environ is None else environ)
    return builder.build()


def _discover(path: str) -> tuple[str, ...]:
    if os.path.isdir(path):
        names = sorted(
            name
            for name in os.listdir(path)
            if name.endswith(".hcl") and os.path.isfile(os.path.join(path, name))
        )
        if not names:
            raise ConfigError([Problem(None, f"{path}: no *.hcl files in this folder")])
        return tuple(os.path.join(path, name) for name in names)
    if os.path.isfile(path):
        return (path,)
    raise ConfigError([Problem(None, f"{path}: no such file or folder")])
