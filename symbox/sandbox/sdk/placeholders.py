"""Parts of `sym.sdk` not implemented yet (`sym.sdk.forms`...), loudly so when used."""

from __future__ import annotations

from typing import Any, NoReturn

from symbox.sandbox.guards import SafeModule
from symbox.sandbox.sdk.exceptions import UnsupportedError


def unsupported(what: str) -> NoReturn:
    """Raise the error every placeholder raises."""
    raise UnsupportedError(f"{what} is not supported by symbox yet")


class UnsupportedModule(SafeModule):
    """A module whose every attribute is an unsupported feature (raised on first use)."""

    def __getattr__(self, name: str) -> Any:
        unsupported(f"{self._sandbox_name_}.{name}")
