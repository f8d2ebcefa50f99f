"""The package map holds: each part of symbox imports only the parts it may.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a deferred
import is still a dependency. The rules are the ones each package's docstring states.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symbox"

# Small shared modules at the top of the package: anything may import them, and they
# import only the pure layers (and each other).
SHARED = frozenset(
    {
        "symbox",
        "symbox.argtypes",
        "symbox.buildinfo",
        "symbox.clock",
        "symbox.errors",
        "symbox.logs",
        "symbox.loops",
        "symbox.metrics",
        "symbox.signing",
        "symbox.tokens",
    }
)
PURE = ("symbox.config", "symbox.engine")

# What each part may import besides itself, the shared modules (unless marked strict)
# and the pure layers. An entry is a package or one module of it.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "symbox.config": (),
    "symbox.engine": ("symbox.config",),
    "symbox.aws": ("symbox.config",),
    # The rows the store writes: sealed audit records and queued notifications.
    "symbox.store": ("symbox.audit.chain", "symbox.notify.model"),
    "symbox.audit": ("symbox.aws", "symbox.store"),
    # Hook integrations reuse the strategies' REST clients and identity directory.
    "symbox.sandbox": ("symbox.aws", "symbox.strategies"),
    # Custom strategies run in the sandbox; requests are redacted as audit records are.
    "symbox.strategies": ("symbox.aws", "symbox.audit.entry", "symbox.sandbox"),
    "symbox.flowhooks": ("symbox.audit", "symbox.sandbox"),
    "symbox.notify": ("symbox.audit", "symbox.store"),
    "symbox.runs": (
        "symbox.audit",
        "symbox.flowhooks",
        "symbox.notify",
        "symbox.sandbox",
        "symbox.store",
        "symbox.strategies",
    ),
    # The adapters people use: each drives the run service, none another adapter.
    "symbox.api": ("symbox.runs", "symbox.store"),
    # Slack is also a notification channel: it follows the shared notification plan.
    "symbox.slack": (
        "symbox.flowhooks",
        "symbox.notify.model",
        "symbox.notify.plan",
        "symbox.runs",
        "symbox.sandbox",
        "symbox.store",
    ),
    "symbox.client": (),
    "symbox.flowtest": (
        "symbox.audit",
        "symbox.flowhooks",
        "symbox.runs",
        "symbox.sandbox",
        "symbox.store",
        "symbox.strategies",
    ),
    "symbox.tfimport": ("symbox.flowhooks", "symbox.strategies"),
    # The composition root wires every part; only the command line starts it.
    "symbox.app": (
        "symbox.api",
        "symbox.audit",
        "symbox.aws",
        "symbox.flowhooks",
        "symbox.notify",
        "symbox.runs",
        "symbox.sandbox",
        "symbox.slack",
        "symbox.store",
        "symbox.strategies",
    ),
    "symbox.cli": ("symbox",),
    "symbox.__main__": ("symbox.cli", "symbox.sandbox"),
}
STRICT = frozenset({"symbox.config", "symbox.engine"})
ADAPTERS = ("symbox.api", "symbox.slack", "symbox.client")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield module_name(path), path


KNOWN = dict(modules())


def imported(path: Path, name: str) -> Iterator[tuple[int, str]]:
    """Every symbox module ``path`` imports, wherever in the file: (line, module)."""
    package = package_of(path, name)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for line, target in imported_node(node, package):
                module = resolve(target)
                if module is not None:
                    yield line, module


def package_of(path: Path, name: str) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def resolve(target: str) -> str | None:
    """The symbox module a dotted import names (``symbox.config.model.Config`` is in
    ``symbox.config.model``); None outside symbox."""
    while target and target not in KNOWN:
        target = target.rpartition(".")[0]
    return target or None


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def owner(name: str) -> str:
    """The part a module belongs to: its package under symbox, or itself at the top."""
    parts = name.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return name if name in SHARED or name in MAY_IMPORT else ".".join(parts[:2])


def allowed(source: str, target: str) -> bool:
    if owner(target) == source:
        return True
    if source in SHARED:
        return owner(target) in SHARED or any(within(target, pure) for pure in PURE)
    rules = MAY_IMPORT[source]
    if source in STRICT:
        return any(within(target, rule) for rule in rules)
    if owner(target) in SHARED or any(within(target, pure) for pure in PURE):
        return True
    return any(within(target, rule) for rule in rules)


def violations() -> list[str]:
    found = []
    for name, path in modules():
        source = owner(name)
        for line, target in imported(path, name):
            if not allowed(source, target):
                where = path.relative_to(PACKAGE.parent)
                found.append(f"{where}:{line}: {source} imports {target}")
    return found


def test_every_part_of_symbox_has_rules() -> None:
    parts = {owner(name) for name, _ in modules()}
    assert parts - SHARED - set(MAY_IMPORT) == set()


def test_each_part_imports_only_what_it_may() -> None:
    assert violations() == []


def test_adapters_import_no_other_adapter() -> None:
    for adapter in ADAPTERS:
        others = [rule for rule in MAY_IMPORT[adapter] if owner(rule) in ADAPTERS]
        assert others == [], adapter


def test_config_and_engine_import_nothing_of_the_runtime() -> None:
    assert MAY_IMPORT["symbox.config"] == ()
    assert MAY_IMPORT["symbox.engine"] == ("symbox.config",)
    assert {"symbox.config", "symbox.engine"} <= STRICT


def test_nothing_imports_the_command_line_or_the_composition_root() -> None:
    for source, rules in MAY_IMPORT.items():
        if source in {"symbox.cli", "symbox.__main__"}:
            continue
        for top in ("symbox.cli", "symbox.app"):
            assert not any(within(rule, top) or rule == "symbox" for rule in rules), source


def top_level_imports(path: Path, name: str) -> Iterator[str]:
    """The symbox modules ``path`` imports when it is imported (not inside functions, not
    only for type checking)."""
    tree = ast.parse(path.read_text())
    package = package_of(path, name)

    def visit(body: list[ast.stmt]) -> Iterator[str]:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.If):
                yield from visit(node.body)
                yield from visit(node.orelse)
            elif isinstance(node, ast.Try):
                yield from visit(node.body)
                for handler in node.handlers:
                    yield from visit(handler.body)
                yield from visit(node.orelse)
                yield from visit(node.finalbody)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for _, target in imported_node(node, package):
                    yield target

    yield from visit(tree.body)


def imported_node(node: ast.Import | ast.ImportFrom, package: str) -> Iterator[tuple[int, str]]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield node.lineno, alias.name
        return
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    for alias in node.names:
        yield node.lineno, f"{source}.{alias.name}"


def test_no_module_imports_itself_through_others() -> None:
    graph: dict[str, set[str]] = {}
    for name, path in KNOWN.items():
        targets = {resolve(target) for target in top_level_imports(path, name)}
        graph[name] = {target for target in targets if target and target != name}
    assert first_cycle(graph) == []


def first_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` (its first node again at the end), or [] if it has none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


@pytest.mark.parametrize(
    ("graph", "members"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, set()),
        ({"a": {"b"}, "b": {"a"}}, {"a", "b"}),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, {"a", "b", "c"}),
    ],
)
def test_cycles_are_found(graph: dict[str, set[str]], members: set[str]) -> None:
    assert set(first_cycle(graph)) == members


def test_a_forbidden_import_is_refused() -> None:
    assert not allowed("symbox.engine", "symbox.store.writer")
    assert not allowed("symbox.engine", "symbox.clock")
    assert not allowed("symbox.api", "symbox.slack.handlers")
    assert not allowed("symbox.aws", "symbox.strategies.base")
    assert not allowed("symbox.config", "symbox.engine.model")
    assert not allowed("symbox.runs", "symbox.app")
    assert allowed("symbox.api", "symbox.runs.service")
    assert allowed("symbox.store", "symbox.audit.chain")
    assert not allowed("symbox.store", "symbox.audit.shipper")
