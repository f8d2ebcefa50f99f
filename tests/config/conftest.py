"""Config tests run inside their own temporary folder, as a user runs symbox in theirs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def each_in_tmp(in_tmp: Path) -> Path:
    """Every config test runs in ``in_tmp`` (the shared fixture), asked for or not."""
    return in_tmp
