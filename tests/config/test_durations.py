"""Durations: ``30s``, ``10m``, ``1h``, ``2d``, ``1mo`` and back."""

from __future__ import annotations

import pytest

from symbox.config import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h", 3600), ("2d", 172800), ("1mo", 2592000), ("90m", 5400)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "1w", "1", "h", "-1h", "1.5h", " 1h", "1H", "1 h"])
def test_parse_duration_rejects_and_names_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=f'invalid duration "{text}"'):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (30, "30s"),
        (600, "10m"),
        (5400, "90m"),
        (3600, "1h"),
        (86400, "1d"),
        (2592000, "1mo"),
        (61, "61s"),
        (0, "0s"),
    ],
)
def test_format_duration_uses_the_largest_exact_unit(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_is_the_inverse_of_parse() -> None:
    for text in ("45s", "7m", "5h", "3d", "2mo"):
        assert format_duration(parse_duration(text)) == text


def test_format_duration_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(-1)
