"""Parts of `sym.sdk` symbox does not implement: they import, and fail loudly when used.

A hook file imports everything at the top; if one name it imports were missing, every hook
of the file (notifications included) would fail. So a missing name imports as a placeholder
that raises `UnsupportedError` naming it only when the hook calls or reads it.
"""

from __future__ import annotations

from typing import Any, NoReturn

from symbox.sandbox.guards import SafeModule
from symbox.sandbox.sdk.exceptions import SymException, UnsupportedError

# The package under which missing modules and names become placeholders.
SDK_PACKAGE = "sym.sdk"


def unsupported(what: str) -> NoReturn:
    """Raise the error every placeholder raises."""
    raise UnsupportedError(f"{what} is not supported by symbox yet")


class Unsupported:
    """A name symbox does not implement: importing it works, calling or using it raises."""

    __slots__ = ("_sandbox_name_",)

    _sandbox_name_: str

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_sandbox_name_", name)

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        unsupported(self._sandbox_name_)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            # Python's own probes (`__name__`, `__mro_entries__`...) must see a plain miss.
            raise AttributeError(name)
        unsupported(f"{self._sandbox_name_}.{name}")

    def __getitem__(self, key: object) -> NoReturn:
        unsupported(self._sandbox_name_)

    def __iter__(self) -> NoReturn:
        unsupported(self._sandbox_name_)

    def __mro_entries__(self, bases: tuple[object, ...]) -> NoReturn:
        # `class X(Placeholder):` is a use too.
        unsupported(self._sandbox_name_)

    def _read_only(self, *args: object) -> NoReturn:
        unsupported(self._sandbox_name_)

    __setattr__ = _read_only
    __delattr__ = _read_only
    __guarded_setattr__ = _read_only
    __guarded_delattr__ = _read_only

    def __repr__(self) -> str:
        return f"<{self._sandbox_name_}: not supported by symbox>"


class SdkModule(SafeModule):
    """A `sym.sdk.*` module: its missing public names, and missing submodules, are placeholders."""

    # Read by the policy's import: a missing submodule of an open module is a placeholder.
    _sandbox_open_ = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            return super().__getattr__(name)
        return Unsupported(f"{self._sandbox_name_}.{name}")


def sdk_module(name: str, attributes: dict[str, object] | None = None) -> SdkModule:
    """The stand-in for the `sym.sdk` module ``name`` with the names symbox implements."""
    return SdkModule(name, attributes or {})


class ExceptionsModule(SdkModule):
    """`sym.sdk.exceptions`: a missing error class is a `SymException` subclass of that name.

    Hooks name error classes in `except` clauses, which Python evaluates only when something
    is raised: a placeholder there would turn the hook's real error into a TypeError.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not name[:1].isupper():
            return super().__getattr__(name)
        kind = type(name, (SymException,), {"__doc__": f"{name} (not raised by symbox)."})
        # Kept, so `except X` and a later `X` are the same class.
        object.__setattr__(self, name, kind)
        return kind
