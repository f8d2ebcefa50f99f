"""Compile hook modules with RestrictedPython and run one hook function in a fresh namespace."""

from __future__ import annotations

import ast
import datetime
import hashlib
import json
import math
import re
import string
import types
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from symbox.sandbox.errors import HookCompileError, HookError
from symbox.sandbox.guards import Guards, SafeModule, default_iter_check, safe_module

# How many compiled modules a policy keeps; hook sources are few and small.
_CACHE_SIZE = 256
_LINE_PREFIX = re.compile(r"^Line (\d+): ")


def default_modules() -> dict[str, object]:
    """The standard modules hooks may import, each reduced to its public, non-module API."""
    return {
        "re": safe_module(re),
        "datetime": safe_module(datetime),
        "json": safe_module(json),
        "math": safe_module(math),
        # Formatter walks attributes from a format string (`{0.__class__}`).
        "string": safe_module(string, exclude=("Formatter",)),
    }


def _guarded_call(name: str, value: ast.expr) -> ast.Call:
    call = ast.Call(func=ast.Name(name, ast.Load()), args=[value], keywords=[])
    copy_locations(call, value)
    return call


class HookTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus guards on `*x` and `**x`, which C would iterate directly."""

    def visit_Starred(self, node: ast.Starred) -> ast.AST:
        """`[*x]`, `(*x,)`, `{*x}`, `f(*x)`: iterate x through `_getiter_`."""
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _guarded_call("_getiter_", node.value)
        return node

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        """`{**x}`: copy x through the guard."""
        node = self.node_contents_visit(node)
        node.values = [
            _guarded_call("_unpack_mapping_", value) if key is None else value
            for key, value in zip(node.keys, node.values, strict=True)
        ]
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        """`f(**x)`: copy x through the guard."""
        node = self.node_contents_visit(node)
        if node.arg is None:
            node.value = _guarded_call("_unpack_mapping_", node.value)
        return node


class HookPolicy:
    """Compiles hook sources (cached by hash) and runs hook functions under the guards."""

    def __init__(
        self,
        modules: Mapping[str, object] | None = None,
        iter_check: Callable[[object], None] = default_iter_check,
    ) -> None:
        self._modules = _with_packages(default_modules() if modules is None else modules)
        self._guards = Guards(iter_check)
        self._cache: OrderedDict[str, types.CodeType] = OrderedDict()

    def compile(self, source: str, filename: str) -> types.CodeType:
        """Compile a hook module, or raise HookCompileError naming `filename:line`."""
        key = hashlib.sha256(f"{filename}\0{source}".encode()).hexdigest()
        code = self._cache.get(key)
        if code is not None:
            self._cache.move_to_end(key)
            return code
        result = compile_restricted_exec(source, filename=filename, policy=HookTransformer)
        if result.errors or result.code is None:
            raise _compile_error(result.errors, filename)
        self._cache[key] = result.code
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return result.code

    def namespace(self) -> dict[str, Any]:
        """A fresh global namespace for one call."""
        builtins = self._guards.builtins()
        builtins["__import__"] = self._import
        return self._guards.globals_for(builtins)

    def call(self, source: str, filename: str, function: str, args: Sequence[Any]) -> Any:
        """Run `function(*args)` from the hook module; hook exceptions become HookError."""

        def entry(namespace: Mapping[str, Any]) -> Any:
            target = namespace.get(function)
            if not callable(target):
                raise HookError(f"the hook module has no function {function!r}", file=filename)
            return target(*args)

        return self.run(source, filename, entry)

    def run(self, source: str, filename: str, entry: Callable[[Mapping[str, Any]], Any]) -> Any:
        """Execute the module, then `entry(namespace)`; hook exceptions become HookError."""
        code = self.compile(source, filename)
        namespace = self.namespace()
        try:
            exec(code, namespace)
            return entry(namespace)
        except HookError:
            raise
        except BaseException as exc:  # a hook may raise anything, SystemExit included
            raise _runtime_error(exc, filename) from None

    def _import(
        self,
        name: str,
        globals: object = None,
        locals: object = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> object:
        if level != 0:
            raise ImportError("relative imports are not allowed in hooks")
        module = self._modules.get(name) or self._open_submodule(name)
        if module is None:
            raise ImportError(f"import of {name!r} is not allowed in hooks")
        if fromlist:
            return module
        return self._modules[name.partition(".")[0]]

    def _open_submodule(self, name: str) -> object | None:
        """A stand-in for a missing submodule of an open package (`sym.sdk`), else None."""
        parent, _, child = name.rpartition(".")
        known = self._modules.get(parent)
        if isinstance(known, SafeModule) and not child.startswith("_"):
            # A module-like object the package holds (`sym.sdk.integrations.okta`) is what
            # `from sym.sdk.integrations.okta import ...` imports from. Only one that says
            # so: `from` imports read attributes without the guards, so importing from any
            # other object (a str's `join`, a class's `mro`) would step around them.
            member: object = vars(known).get(child)
            if getattr(type(member), "_sandbox_module_", False):
                return member
        while parent:
            ancestor = self._modules.get(parent)
            if ancestor is not None:
                # Only a package that declares itself open (its missing names are placeholders).
                if isinstance(ancestor, SafeModule) and getattr(
                    type(ancestor), "_sandbox_open_", False
                ):
                    return type(ancestor)(name, {})
                return None
            parent = parent.rpartition(".")[0]
        return None


def _with_packages(modules: Mapping[str, object]) -> dict[str, object]:
    """Add parent stand-ins so `import sym.sdk.x` binds `sym` with `.sdk.x` reachable."""
    result = dict(modules)
    for dotted in sorted(modules, key=lambda n: n.count("."), reverse=True):
        parts = dotted.split(".")
        for depth in range(len(parts) - 1, 0, -1):
            parent, child = ".".join(parts[:depth]), parts[depth]
            existing = result.get(parent)
            children = dict(vars(existing)) if isinstance(existing, SafeModule) else {}
            children.pop("_sandbox_name_", None)
            # Always the latest stand-in: an earlier pass may have stored a stale one here.
            children[child] = result[".".join(parts[: depth + 1])]
            # Of the same kind as the given stand-in, so an open package stays open.
            kind = type(existing) if isinstance(existing, SafeModule) else SafeModule
            result[parent] = kind(parent, children)
    return result


def _compile_error(errors: Sequence[str], filename: str) -> HookCompileError:
    first = errors[0] if errors else "could not compile"
    match = _LINE_PREFIX.match(first)
    line = int(match.group(1)) if match else None
    message = first[match.end() :] if match else first
    for other in errors[1:]:
        message += f"; also {other[0].lower()}{other[1:]}"
    return HookCompileError(message, file=filename, line=line)


def _runtime_error(exc: BaseException, filename: str) -> HookError:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        # The innermost frame of the hook's own file is the line the author wants.
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    try:
        message = str(exc)
    except Exception:  # a hook-defined __str__ may itself fail
        message = "<unprintable exception>"
    if not message and isinstance(exc, MemoryError):
        message = "out of memory (the hook's memory limit was reached)"
    return HookError(message, file=filename, line=line, type_name=type(exc).__name__)
