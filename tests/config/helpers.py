"""Write .hcl files into a temporary folder and load them, for the config tests."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from symbox.config import ConfigError, load_config
from symbox.config.model import Config

# A target whose settings hold ``v = <expression>``: settings accept any value type.
SETTING = """\
resource "sym_target" "t" {
  type     = "custom"
  name     = "t"
  settings = { v = %s }
}
"""


def write(folder: Path, text: str, name: str = "config.hcl") -> Path:
    """Write dedented ``text`` to ``folder/name`` and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(text: str, environ: Mapping[str, str] | None = None) -> Config:
    """Load ``text`` written as ``config.hcl`` in the current folder."""
    write(Path.cwd(), text)
    return load_config("config.hcl", environ or {})


def problems(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The problems ``text`` (as ``config.hcl`` in the current folder) is rejected with."""
    write(Path.cwd(), text)
    with pytest.raises(ConfigError) as caught:
        load_config("config.hcl", environ or {})
    return [str(problem) for problem in caught.value.problems]


def setting(expression: str, prefix: str = "", environ: Mapping[str, str] | None = None) -> Any:
    """Evaluate ``expression`` as a target setting, after ``prefix`` blocks."""
    config = load(textwrap.dedent(prefix) + SETTING % expression, environ)
    return config.targets["t"].settings["v"]
