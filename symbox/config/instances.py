"""Expand sym_* resources' ``for_each`` and ``count`` into one resource per instance.

Each instance is keyed ``NAME["KEY"]`` (for_each) or ``NAME[INDEX]`` (count) and is
referred to as ``TYPE.NAME["KEY"]``, Terraform's resource instance address.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from symbox.config.functions import SetValue
from symbox.config.hcl import Attribute, Block, show
from symbox.config.model import Location
from symbox.config.schema import is_invalid, is_number

META_ARGUMENTS = ("for_each", "count")

Index = str | int
# Each instance's key and the names its arguments see: {"each": {...}} or {"count": {...}}.
Instances = dict[Index, Mapping[str, Any]]


@dataclass(frozen=True)
class Group:
    """A resource with for_each or count: its instances' keys in order, or failed."""

    kind: str
    name: str
    keys: tuple[Index, ...]
    counted: bool
    failed: bool = False

    def instance(self, index: Any) -> Index | None:
        """The instance ``index`` names (a key for for_each, a number for count), if any."""
        if self.counted:
            whole = is_number(index) and not isinstance(index, bool) and index == int(index)
            found: Index | None = int(index) if whole else None
        else:
            found = index if isinstance(index, str) else None
        return found if found in self.keys else None

    def shown_keys(self) -> str:
        """The instances' keys for a message: ``orders, billing``."""
        return ", ".join(str(key) for key in self.keys) or "(none)"


def instance_key(name: str, index: Index) -> str:
    """The model key of one instance: ``db["orders"]`` or ``db[0]``."""
    shown = str(index) if isinstance(index, int) else json.dumps(index, ensure_ascii=False)
    return f"{name}[{shown}]"


def split_meta(block: Block) -> tuple[Block, dict[str, Attribute]]:
    """``block`` without for_each and count, and those arguments by name."""
    meta = {a.name: a for a in block.attributes if a.name in META_ARGUMENTS}
    rest = tuple(a for a in block.attributes if a.name not in META_ARGUMENTS)
    return replace(block, attributes=rest), meta


class Expander:
    """Evaluates for_each and count, then replaces each such resource by its instances."""

    def __init__(
        self,
        resources: dict[tuple[str, str], Block],
        evaluate: Callable[[str, str, Attribute], Any],
        problem: Callable[[Location, str], None],
    ) -> None:
        self._resources = resources
        self._evaluate = evaluate
        self._problem = problem
        self.meta: dict[tuple[str, str], Attribute] = {}
        self._groups: dict[tuple[str, str], Group] = {}
        self._active: set[tuple[str, str]] = set()
        # Names each instance's arguments see: {"each": {...}} or {"count": {...}}.
        self.bindings: dict[tuple[str, str], Mapping[str, Any]] = {}

    def declare(self, kind: str, name: str, meta: Mapping[str, Attribute]) -> None:
        """Remember a resource's for_each or count; both at once is a problem."""
        if not meta:
            return
        if len(meta) > 1:
            later = max(meta.values(), key=lambda a: a.location.line)
            self._problem(later.location, f"{kind}.{name}: for_each and count cannot both be set")
        self.meta[(kind, name)] = meta.get("for_each") or meta["count"]

    def group(self, kind: str, name: str) -> Group | None:
        """The instances of ``kind.name``, or None when it has neither for_each nor count."""
        attribute = self.meta.get((kind, name))
        if attribute is None:
            return None
        found = self._groups.get((kind, name))
        if found is not None:
            return found
        counted = attribute.name == "count"
        if (kind, name) in self._active:
            self._problem(attribute.location, f"{kind}.{name}: {attribute.name} refers to itself")
            return Group(kind, name, (), counted, failed=True)
        self._active.add((kind, name))
        try:
            value = self._evaluate(kind, name, attribute)
        finally:
            self._active.discard((kind, name))
        where = f"{kind}.{name}: {attribute.name}"
        items = instances_of(attribute.name, value)
        if isinstance(items, str):
            self._problem(attribute.location, f"{where}: {items}")
        failed = items is None or isinstance(items, str)
        entries = {} if failed or isinstance(items, str) or items is None else items
        group = Group(kind, name, tuple(entries), counted, failed)
        self._groups[(kind, name)] = group
        for index, bound in entries.items():
            self.bindings[(kind, instance_key(name, index))] = bound
        return group

    def expand(self) -> None:
        """Replace every resource with for_each or count by its instances, in place."""
        for kind, name in self.meta:
            self.group(kind, name)
        expanded: dict[tuple[str, str], Block] = {}
        for (kind, name), block in self._resources.items():
            group = self._groups.get((kind, name))
            if group is None:
                expanded[(kind, name)] = block
                continue
            for index in group.keys:
                expanded[(kind, instance_key(name, index))] = block
        # The evaluator and reader hold this same mapping, so it is updated, not rebound.
        self._resources.clear()
        self._resources.update(expanded)

    def failed(self, kind: str, name: str) -> bool:
        """Whether ``kind.name`` had a for_each or count that could not be evaluated."""
        group = self._groups.get((kind, name))
        return group is not None and group.failed


def count_instances(value: Any) -> Instances | str | None:
    """``count``'s instances with their ``count.index``; a message, or None if INVALID."""
    if is_invalid(value):
        return None
    if isinstance(value, bool) or not is_number(value) or value != int(value) or value < 0:
        return f"expected a whole number of at least 0, got {show(value)}"
    return {i: {"count": {"index": i}} for i in range(int(value))}


def for_each_instances(value: Any) -> Instances | str | None:
    """``for_each``'s instances with ``each``; a message, or None if INVALID."""
    if is_invalid(value):
        return None
    if isinstance(value, dict):
        # Terraform orders a map's instances by key, as for expressions over it.
        return {key: {"each": {"key": key, "value": value[key]}} for key in sorted(value)}
    if isinstance(value, SetValue):
        if not all(isinstance(item, str) for item in value):
            return "a set must hold only strings"
        return {key: {"each": {"key": key, "value": key}} for key in value}
    if isinstance(value, list):
        return "expected a map or a set of strings, got a list: use toset() to make it a set"
    if value is None:
        return "expected a map or a set of strings, got null"
    return f"expected a map or a set of strings, got {show(value)}"


def instances_of(meta: str, value: Any) -> Instances | str | None:
    """The instances a ``for_each`` or ``count`` (``meta``) value makes."""
    return count_instances(value) if meta == "count" else for_each_instances(value)
