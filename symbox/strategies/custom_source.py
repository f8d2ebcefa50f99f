"""What a custom strategy's implementation defines, read without running it (for validate)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

from symbox.config.model import Config, Strategy
from symbox.sandbox.errors import HookCompileError
from symbox.sandbox.policy import HookPolicy

BASE_CLASS = "AccessStrategy"
REQUIRED_METHODS = ("fetch_remote_identity", "escalate", "deescalate")


def implementation_file(strategy: Strategy) -> str:
    """The name errors give the implementation: its file, or a stand-in for inline code."""
    return strategy.implementation_path or f"<{strategy.name} implementation>"


@dataclass(frozen=True)
class StrategySource:
    """The AccessStrategy subclass a module defines: its name, line and methods' lines."""

    class_name: str
    line: int
    methods: Mapping[str, int] = field(default_factory=dict)
    # Whether the module calls get_requester_identity (so an unknown identity is fatal).
    uses_identity: bool = False


class StrategySourceError(Exception):
    """The implementation cannot run as a custom strategy; the message has file:line."""


def read_strategy(source: str, filename: str, policy: HookPolicy | None = None) -> StrategySource:
    """Compile ``source`` as the sandbox will and find its AccessStrategy subclass."""
    try:
        (policy or HookPolicy(modules={})).compile(source, filename)
    except HookCompileError as error:
        raise StrategySourceError(str(error)) from None
    module = ast.parse(source, filename)
    classes = {node.name: node for node in module.body if isinstance(node, ast.ClassDef)}
    strategies = [node for node in classes.values() if _derives(node, classes, set())]
    bases = {name for node in strategies for name in _base_names(node)}
    leaves = [node for node in strategies if node.name not in bases]
    if not leaves:
        raise StrategySourceError(
            f"{filename}:1: the module defines no subclass of sym.sdk.strategies.AccessStrategy"
        )
    if len(leaves) > 1:
        names = ", ".join(node.name for node in leaves)
        raise StrategySourceError(
            f"{filename}:{leaves[1].lineno}: the module defines several AccessStrategy "
            f"subclasses ({names}); keep one"
        )
    leaf = leaves[0]
    methods = _methods(leaf, classes)
    for name in REQUIRED_METHODS:
        if name not in methods:
            raise StrategySourceError(
                f"{filename}:{leaf.lineno}: {leaf.name} does not define {name}"
            )
    uses_identity = any(
        isinstance(node, ast.Attribute) and node.attr == "get_requester_identity"
        for node in ast.walk(module)
    )
    return StrategySource(leaf.name, leaf.lineno, methods, uses_identity)


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def _derives(node: ast.ClassDef, classes: Mapping[str, ast.ClassDef], seen: set[str]) -> bool:
    seen.add(node.name)
    for name in _base_names(node):
        if name == BASE_CLASS:
            return True
        parent = classes.get(name)
        if parent is not None and name not in seen and _derives(parent, classes, seen):
            return True
    return False


def _methods(node: ast.ClassDef, classes: Mapping[str, ast.ClassDef]) -> dict[str, int]:
    """Methods defined on the class or on its bases in the same module, with their lines."""
    methods: dict[str, int] = {}
    for name in _base_names(node):
        parent = classes.get(name)
        if parent is not None and parent is not node:
            methods.update(_methods(parent, {k: v for k, v in classes.items() if v is not node}))
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            methods[item.name] = item.lineno
    return methods


def check_custom_strategies(config: Config) -> list[str]:
    """Every custom strategy's implementation problem, as ``file:line: message``."""
    policy = HookPolicy(modules={})
    problems: list[str] = []
    for strategy in config.strategies.values():
        if strategy.type != "custom":
            continue
        try:
            read_strategy(strategy.implementation or "", implementation_file(strategy), policy)
        except StrategySourceError as error:
            problems.append(str(error))
    return problems
