"""What can be known of a hook file before it runs: its imports, SDK names, integrations, hosts.

Compiling a hook file proves only that it parses. A file that imports ``os``, names an SDK
function Sym never had, calls PagerDuty from an environment without a PagerDuty
integration, or calls a literal URL its environment's ``allowed_hosts`` leaves out, fails
on every request that reaches that line. These checks find such lines at load, with their
file and line, from the source alone: nothing is run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from symbox.config.hosts import AllowList, hook_allow_list
from symbox.config.model import Config
from symbox.engine.forms import shapes_form
from symbox.flowhooks.forms import implementation_file
from symbox.sandbox.integrations.build import HOOK_INTEGRATION_TYPES, hook_integration_types
from symbox.sandbox.sdk.integrations import ERROR_TYPES
from symbox.sandbox.sdk.placeholders import SDK_PACKAGE
from symbox.sandbox.sdk.published import PUBLISHED
from symbox.sandbox.worker import worker_modules

# A flow function so named is a hook (or a reducer) that runs in the sandbox.
HOOK_PREFIXES = ("on_", "after_", "get_")

_INTEGRATIONS = f"{SDK_PACKAGE}.integrations"
# The requests functions whose first argument is the URL (`request` takes the method first).
_URL_FIRST = ("get", "post", "put", "patch", "delete", "head", "options")


@dataclass(frozen=True)
class HookSurface:
    """What one environment's hooks may reach.

    ``modules`` is what the sandbox lets hooks import; ``checked_integrations`` are the
    integration types whose presence is known from the config, and ``integrations`` those
    of them this environment's hooks reach; ``hosts`` is the environment's allow-list.
    """

    modules: Mapping[str, object]
    checked_integrations: frozenset[str]
    integrations: frozenset[str]
    hosts: AllowList


def check_hook_source(source: str, filename: str, surface: HookSurface) -> list[str]:
    """Every problem the source shows without running, as ``file:line: message``."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return []  # compiling reports it, with the sandbox's wording
    checker = _Checker(surface)
    checker.visit(tree)
    return [f"{filename}:{line}: {message}" for line, message in checker.problems]


class _Checker(ast.NodeVisitor):
    def __init__(self, surface: HookSurface) -> None:
        self._surface = surface
        # Local name -> the dotted SDK or module path it stands for.
        self._aliases: dict[str, str] = {}
        self.problems: list[tuple[int, str]] = []
        # The exception names caught around the code being visited ("*" for a bare except).
        self._caught: list[frozenset[str]] = []

    def _problem(self, node: ast.stmt | ast.expr, message: str) -> None:
        self.problems.append((node.lineno, message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if self._module_ok(node, alias.name):
                local = alias.asname or alias.name.partition(".")[0]
                self._aliases[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self._problem(node, "relative imports are not allowed in hooks")
            return
        module = node.module or ""
        if not self._module_ok(node, module):
            return
        for alias in node.names:
            if alias.name == "*":
                self._problem(node, f"'from {module} import *' is not allowed in hooks")
                continue
            dotted = f"{module}.{alias.name}"
            if self._has(module, alias.name):
                self._aliases[alias.asname or alias.name] = dotted
            else:
                self._problem(node, f"{module} has no name {alias.name!r}")

    def visit_Try(self, node: ast.Try) -> None:
        caught = frozenset(name for handler in node.handlers for name in _names(handler.type))
        self._caught.append(caught)
        for statement in node.body:
            self.visit(statement)
        self._caught.pop()
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    visit_TryStar = visit_Try  # type: ignore[assignment]

    def _guarded(self, *errors: str) -> bool:
        """Tell whether the code being visited is inside a try that catches one of ``errors``."""
        wanted = {"*", "Exception", "BaseException", *errors}
        return any(caught & wanted for caught in self._caught)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self._dotted(node.value)
        if dotted is not None and self._known_module(dotted) and not self._has(dotted, node.attr):
            self._problem(node, f"{dotted} has no name {node.attr!r}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        dotted = self._dotted(node.func)
        if dotted is not None:
            self._check_integration(node, dotted)
            self._check_url(node, dotted)
        self.generic_visit(node)

    def _module_ok(self, node: ast.stmt, module: str) -> bool:
        if self._known_module(module):
            return True
        if module == SDK_PACKAGE or module.startswith(f"{SDK_PACKAGE}."):
            self._problem(node, f"{module} is not a module of Sym's SDK")
            return False
        modules = self._surface.modules
        top = {name.partition(".")[0] for name in modules} - {SDK_PACKAGE.partition(".")[0]}
        allowed = [*sorted(top), f"{SDK_PACKAGE}.*"]
        self._problem(
            node,
            f"import of {module!r} is not allowed in hooks (they may import: {', '.join(allowed)})",
        )
        return False

    def _known_module(self, module: str) -> bool:
        return module in PUBLISHED or self._resolve(module) is not None or _parent_has(module)

    def _resolve(self, module: str) -> object | None:
        """symbox's stand-in for a module path: a sandbox module, or a module-like member."""
        found = self._surface.modules.get(module)
        if found is not None:
            return found
        parent, _, child = module.rpartition(".")
        holder = self._surface.modules.get(parent)
        member = (
            vars(holder).get(child) if holder is not None and hasattr(holder, "__dict__") else None
        )
        return member if getattr(type(member), "_sandbox_module_", False) else None

    def _has(self, module: str, name: str) -> bool:
        """Tell whether ``module`` offers ``name``: symbox implements it or Sym publishes it."""
        if name.startswith("_"):
            return False
        if self._known_module(f"{module}.{name}"):
            return True
        published = PUBLISHED.get(module)
        if published is not None and name in published:
            return True
        found = self._resolve(module)
        sdk = module == SDK_PACKAGE or module.startswith(f"{SDK_PACKAGE}.")
        if found is not None and _offers(found, name):
            return True
        # An SDK module Sym's published list does not cover: nothing to hold the name against.
        return sdk and published is None

    def _dotted(self, node: ast.expr) -> str | None:
        """The module path an expression names (``pd.is_on_call`` -> ``sym.sdk...``), if any."""
        if isinstance(node, ast.Name):
            return self._aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._dotted(node.value)
            if base is not None and self._known_module(base):
                return f"{base}.{node.attr}"
        return None

    def _check_integration(self, node: ast.Call, dotted: str) -> None:
        prefix, _, rest = dotted.partition(f"{_INTEGRATIONS}.")
        kind = rest.partition(".")[0]
        if prefix or not kind or kind not in self._surface.checked_integrations:
            return
        if kind not in self._surface.integrations and not self._guarded(
            ERROR_TYPES.get(kind, "SymException"), "SymException"
        ):
            self._problem(
                node,
                f"{kind}.{rest.partition('.')[2] or kind} needs a {kind} integration "
                "(a sym_integration with an api_token) that this flow's environment reaches",
            )

    def _check_url(self, node: ast.Call, dotted: str) -> None:
        module, _, function = dotted.rpartition(".")
        if module != "requests":
            return
        if function in _URL_FIRST:
            url = _argument(node, 0, "url")
        elif function == "request":
            url = _argument(node, 1, "url")
        else:
            return
        literal = _literal_prefix(url)
        if literal is None:
            return
        try:
            parts = urlsplit(literal)
            host, port = parts.hostname, parts.port
        except ValueError:
            return  # the call itself refuses it, naming the URL
        if not host or parts.scheme not in ("http", "https"):
            return
        port = port or (443 if parts.scheme == "https" else 80)
        if not self._surface.hosts.allows(host, port) and not self._guarded(
            "RequestException", "ConnectionError", "HTTPError"
        ):
            self._problem(
                node,
                f"{host}:{port} is not in the allowed_hosts of this flow's environment "
                "(custom integrations' settings.allowed_hosts)",
            )


def _names(node: ast.expr | None) -> Iterator[str]:
    if node is None:
        yield "*"
    elif isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.Tuple):
        for item in node.elts:
            yield from _names(item)


def _offers(found: object, name: str) -> bool:
    # Never getattr on the stand-in itself: SDK stand-ins answer every name with a placeholder.
    return name in getattr(found, "__dict__", {}) or hasattr(type(found), name)


def _parent_has(module: str) -> bool:
    parent, _, child = module.rpartition(".")
    return child in PUBLISHED.get(parent, frozenset())


def _argument(node: ast.Call, index: int, keyword: str) -> ast.expr | None:
    for item in node.keywords:
        if item.arg == keyword:
            return item.value
    return node.args[index] if len(node.args) > index else None


def _literal_prefix(node: ast.expr | None) -> str | None:
    """The URL's text up to its first placeholder, when its scheme and host are literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            head = first.value
            # Only when the host ends inside the literal part: "https://{host}/x" says nothing.
            _, sep, rest = head.partition("://")
            if sep and any(mark in rest for mark in "/?#"):
                return head
    return None


def check_flow_hooks(config: Config) -> list[str]:
    """The problems each flow's hook file shows without running, for the flow's environment."""
    modules = worker_modules()
    checked = frozenset(HOOK_INTEGRATION_TYPES)
    problems: list[str] = []
    for flow in config.flows.values():
        surface = HookSurface(
            modules=modules,
            checked_integrations=checked,
            integrations=hook_integration_types(config, flow.environment),
            hosts=hook_allow_list(config, flow.environment),
        )
        found = check_hook_source(flow.implementation, implementation_file(flow), surface)
        # Flows sharing a file in one environment would repeat each problem.
        problems.extend(problem for problem in found if problem not in problems)
    return problems


def defines_hooks(config: Config) -> bool:
    """Tell whether any flow's implementation defines a hook or reducer function."""
    for flow in config.flows.values():
        if shapes_form(flow):
            return True  # prefetch reducers and on_change functions run in the sandbox
        try:
            tree = ast.parse(flow.implementation)
        except SyntaxError:
            return True  # the sandbox reports it, with its file and line, when it runs
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith(HOOK_PREFIXES):
                return True
    return False
