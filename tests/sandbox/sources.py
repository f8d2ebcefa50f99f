"""Hook sources for sandbox tests: a body of statements wrapped in a ``hook`` function."""

from __future__ import annotations


def hook_source(body: str, params: str = "", preamble: str = "") -> str:
    """Return a module defining ``def hook(<params>):`` whose body is ``body``."""
    indented = "\n".join("    " + line for line in body.splitlines())
    return f"{preamble}def hook({params}):\n{indented}\n"
