"""Config tests run inside their own temporary folder, as a user runs symbox in theirs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``tmp_path`` the current folder, so problems read ``config.hcl:LINE``."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
