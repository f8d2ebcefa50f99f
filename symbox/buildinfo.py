"""What the running program was built from, for ``symbox version``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

# build.spec writes this file into the executable; a source checkout has none.
BUILD_FILE = "build.json"


def build_info() -> dict[str, str]:
    """The built executable's facts (commit, built_at, format, ...); empty when run from source."""
    try:
        data = json.loads(Path(__file__).with_name(BUILD_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(key): str(value) for key, value in data.items()}


def is_frozen() -> bool:
    """Tell whether this is the built executable rather than the source tree."""
    return bool(getattr(sys, "frozen", False))
