"""Read a flow's quorum: ``approvals_required`` and per-group ``approvals`` in its params."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symbox.config.hcl import show
from symbox.config.model import ApprovalGroup
from symbox.config.people import InvalidApprover, approver_entry
from symbox.config.schema import Args, Reader

# The most approvals a flow or a hook's RequestPermission may require (the sandbox SDK
# holds the same bound for hooks).
MAX_APPROVALS = 20

_GROUP_KEYS = frozenset({"from", "count"})


def read_quorum(
    reader: Reader, where: str, args: Args, flow_vars: Mapping[str, str]
) -> tuple[int, tuple[ApprovalGroup, ...]]:
    """The flow's ``(approvals_required, groups)``; problems are reported with their line."""
    v = args.values
    required = v.get("approvals_required")
    if required is not None and not _whole(required, MAX_APPROVALS):
        reader.problem(
            args.lines["approvals_required"],
            f"{where}: approvals_required: expected a whole number from 1 to {MAX_APPROVALS}, "
            f"got {show(required)}",
        )
        args.ok = False
        required = None
    groups = _groups(reader, where, args, flow_vars) if "approvals" in v else ()
    least = sum(group.count for group in groups)
    if required is not None and required < least:
        reader.problem(
            args.lines["approvals_required"],
            f"{where}: approvals_required: {required} is fewer than the {least} approvals "
            "that approvals asks for from its groups",
        )
        args.ok = False
    return max(required or 1, least), groups


def _whole(value: Any, most: int) -> bool:
    return type(value) is int and 1 <= value <= most


def _groups(
    reader: Reader, where: str, args: Args, flow_vars: Mapping[str, str]
) -> tuple[ApprovalGroup, ...]:
    line = args.lines["approvals"]
    items = args.values["approvals"]
    if not isinstance(items, list | tuple):
        reader.problem(
            line,
            f"{where}: approvals: expected a list of {{ from = VAR, count = N }}, "
            f"got {show(items)}",
        )
        args.ok = False
        return ()
    groups: list[ApprovalGroup] = []
    for index, item in enumerate(items):
        group = _group(reader, f"{where}: approvals[{index}]", line, item, flow_vars)
        if group is None:
            args.ok = False
        elif any(known.name == group.name for known in groups):
            again = f"group {show(group.name)} is listed twice"
            reader.problem(line, f"{where}: approvals[{index}]: {again}")
            args.ok = False
        else:
            groups.append(group)
    return tuple(groups)


def _group(
    reader: Reader, where: str, line: Any, item: Any, flow_vars: Mapping[str, str]
) -> ApprovalGroup | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("from"), str):
        reader.problem(
            line, f"{where}: expected {{ from = VAR, count = N }} naming one of the flow's vars"
        )
        return None
    unknown = sorted(set(item) - _GROUP_KEYS)
    if unknown:
        reader.problem(line, f"{where}: unknown key {unknown[0]} (expected: count, from)")
        return None
    name, count = item["from"], item.get("count", 1)
    if not _whole(count, MAX_APPROVALS):
        reader.problem(
            line,
            f"{where}: count: expected a whole number from 1 to {MAX_APPROVALS}, got {show(count)}",
        )
        return None
    if name not in flow_vars:
        names = ", ".join(sorted(flow_vars)) or "none"
        reader.problem(
            line,
            f"{where}: from: the flow has no var {show(name)} listing the group's approvers "
            f"(its vars: {names})",
        )
        return None
    members: set[str] = set()
    for entry in flow_vars[name].split(","):
        if not entry.strip():
            continue
        try:
            members.add(approver_entry(entry))
        except InvalidApprover as error:
            reader.problem(line, f'{where}: from: vars["{name}"]: {error}')
            return None
    if len(members) < count:
        reader.problem(
            line,
            f"{where}: count: {count} approvals from {show(name)}, which lists only {len(members)}",
        )
        return None
    return ApprovalGroup(name, frozenset(members), count)
