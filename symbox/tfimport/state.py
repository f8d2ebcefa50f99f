"""Read the resources out of ``terraform show -json`` output, for a state or a saved plan."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class StateError(ValueError):
    """The JSON is not Terraform's ``show -json`` output of a state or plan."""


@dataclass(frozen=True)
class TfResource:
    """One resource instance as ``show -json`` lists it."""

    address: str
    mode: str
    type: str
    name: str
    index: Any
    module: str
    values: Mapping[str, Any]
    sensitive: Any

    @property
    def is_sym(self) -> bool:
        """Tell whether the resource comes from Sym's provider."""
        return self.type.startswith("sym_")


@dataclass(frozen=True)
class TfDocument:
    """What was read: state or plan, Terraform's version, and every resource."""

    kind: str
    format_version: str
    terraform_version: str
    resources: tuple[TfResource, ...]
    # Addresses whose values a plan cannot know until apply (their id among them).
    unknown: Mapping[str, tuple[str, ...]]


def read_document(document: Any) -> TfDocument:
    """The resources of a state's ``values`` or a plan's ``planned_values``."""
    if not isinstance(document, dict) or "format_version" not in document:
        raise StateError("not the output of terraform show -json (no format_version)")
    kind = "state"
    if "planned_values" in document:
        kind = "plan"
        root = _root(document["planned_values"], "planned_values")
    elif "values" in document:
        root = _root(document["values"], "values")
    elif "resource_changes" in document or "prior_state" in document:
        raise StateError("a plan without planned_values: was it made with -refresh=false?")
    else:
        # An empty state has no values at all.
        root = {}
    resources = tuple(_walk(root, ""))
    return TfDocument(
        kind=kind,
        format_version=str(document.get("format_version")),
        terraform_version=str(document.get("terraform_version", "unknown")),
        resources=resources,
        unknown=_unknown(document.get("resource_changes")),
    )


def _root(values: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(values, dict):
        raise StateError(f"{where} is not an object")
    root = values.get("root_module", {})
    if not isinstance(root, dict):
        raise StateError(f"{where}.root_module is not an object")
    return root


def _walk(module: Mapping[str, Any], path: str) -> Iterator[TfResource]:
    for item in module.get("resources") or ():
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise StateError(f"{path or 'root_module'}: a resource without a type")
        address = item.get("address") or f"{item['type']}.{item.get('name')}"
        yield TfResource(
            address=str(address),
            mode=str(item.get("mode", "managed")),
            type=item["type"],
            name=str(item.get("name", "")),
            index=item.get("index"),
            module=path,
            values=item.get("values") or {},
            sensitive=item.get("sensitive_values") or {},
        )
    for child in module.get("child_modules") or ():
        if not isinstance(child, dict):
            raise StateError(f"{path or 'root_module'}: a child module that is not an object")
        yield from _walk(child, str(child.get("address", path)))


def _unknown(changes: Any) -> Mapping[str, tuple[str, ...]]:
    unknown: dict[str, tuple[str, ...]] = {}
    for change in changes or ():
        after = (
            (change.get("change") or {}).get("after_unknown") if isinstance(change, dict) else None
        )
        if isinstance(after, dict):
            names = tuple(sorted(name for name, flag in after.items() if flag))
            if names:
                unknown[str(change.get("address"))] = names
    return unknown


def is_sensitive(marks: Any, path: tuple[str | int, ...]) -> bool:
    """Tell whether ``sensitive_values`` marks the value at ``path`` (or a parent) sensitive."""
    for step in path:
        if marks is True:
            return True
        if isinstance(marks, dict) and isinstance(step, str):
            marks = marks.get(step)
        elif isinstance(marks, list) and isinstance(step, int) and 0 <= step < len(marks):
            marks = marks[step]
        else:
            return False
    return marks is True


def module_names(module: str) -> list[str]:
    """``module.a.module.b["x"]`` as ``["a", "b", "x"]``: the parts that name a resource."""
    parts: list[str] = []
    rest = module
    while rest.startswith("module."):
        rest = rest[len("module.") :]
        end = len(rest)
        for stop in (".module.", "["):
            found = rest.find(stop)
            if found != -1:
                end = min(end, found)
        parts.append(rest[:end])
        rest = rest[end:]
        if rest.startswith("["):
            close = rest.find("]")
            parts.append(rest[1:close].strip('"'))
            rest = rest[close + 1 :]
        rest = rest.removeprefix(".")
    return parts
