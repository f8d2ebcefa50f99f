"""Errors a hook can end in, each naming the hook file (and line when known)."""

from __future__ import annotations


class HookFailure(Exception):
    """Base class: a hook could not produce a value."""

    def __init__(self, message: str, *, file: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.detail = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


class HookCompileError(HookFailure):
    """The hook's source has a syntax error or uses a construct the sandbox forbids."""


class HookError(HookFailure):
    """The hook raised an exception (or returned something that is not plain data)."""

    def __init__(
        self, message: str, *, file: str, line: int | None = None, type_name: str = "Exception"
    ) -> None:
        self.type_name = type_name
        super().__init__(f"{type_name}: {message}", file=file, line=line)


class HookTimeout(HookFailure):
    """The hook ran past its timeout; its worker was killed and replaced."""


class HookCrashed(HookFailure):
    """The worker running the hook died (memory kill, segfault); it was replaced."""
