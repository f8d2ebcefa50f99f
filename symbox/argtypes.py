"""Argument types the ``symbox`` command's options share."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

Number = TypeVar("Number", int, float)


def bounded(
    kind: Callable[[str], Number], low: Number, high: Number, *, what: str, unit: str = ""
) -> Callable[[str], Number]:
    """An argparse type: ``kind`` of the text, refused (naming the bounds) outside low..high."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{value:g}{unit} is outside {low:g} to {high:g}{unit}"
            )
        return value

    return parse
