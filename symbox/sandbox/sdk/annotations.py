"""`sym.sdk.annotations`: decorators that only mark functions (the name decides when it runs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def hook(function: F) -> F:
    """Mark an `on_*` / `after_*` hook; returns the function unchanged."""
    return function


def reducer(function: F) -> F:
    """Mark a reducer such as `get_permissions`; returns the function unchanged."""
    return function


def prefetch(field_name: str) -> Callable[[F], F]:
    """Mark a prompt-field prefetch function; returns a decorator that changes nothing."""
    if not isinstance(field_name, str):
        raise TypeError("prefetch(field_name=...) takes the name of a prompt field")

    def decorate(function: F) -> F:
        return function

    return decorate
