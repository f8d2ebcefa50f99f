"""``symbox version``: the version, what it runs on, and what a build was made from."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from symbox import __version__
from symbox.buildinfo import build_info, is_frozen


def add_version_command(commands: Any) -> None:
    """Add ``symbox version``."""
    commands.add_parser("version", help="print the version")


def cmd_version(args: argparse.Namespace) -> int:
    """Print the version, what it runs on and, for a built executable, what it was built from."""
    frozen = "frozen" if is_frozen() else "source"
    print(
        f"symbox {__version__} ({frozen}; Python {platform.python_version()}, {platform.machine()})"
    )
    build = build_info()
    if build:
        print(
            f"built {build.get('built_at', '?')} from commit {build.get('commit') or '?'}"
            f" ({build.get('format', '?')}, {build.get('platform', '?')})"
        )
    if is_frozen():
        print(f"executable {sys.executable}")
    return 0
