"""Test files (``*.symtest.hcl``): the cases they describe, read with the config's HCL layer."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from symbox.config import parse_duration
from symbox.config.expressions import Evaluator
from symbox.config.hcl import Block, Problem, parse_file, show
from symbox.config.model import Config, Location
from symbox.config.modules import TEST_SUFFIX
from symbox.config.schema import is_invalid, resource_args
from symbox.flowtest.answers import Answers, read_answers

VALUES = "values in test files"
OUTCOMES = ("approved", "denied", "pending", "errored", "refused")
ANY_USER = "any_user"
# What a case may expect, with what each value must be (checked as the file is read).
EXPECT_KEYS = (
    "outcome",
    "decided_by",
    "reason",
    "approvers",
    "self_approval",
    "notifications",
    "hook_errors",
    "error_contains",
    "granted",
    "target",
    "identity",
    "duration",
)
CASE_KEYS = ("flow", "requester", "fields", "channel", "submitted_by", "at")
ATTEMPT_KEYS = ("by", "reason", "expect", "message_contains")


@dataclass(frozen=True)
class Attempt:
    """Someone tries to approve or deny the request, and what should happen then."""

    action: str
    by: str
    reason: str | None
    # "allowed" or "refused"; None states nothing about this attempt.
    expect: str | None
    message_contains: str | None
    location: Location


@dataclass(frozen=True)
class Case:
    """One scenario: who asks for which flow, what integrations answer, and what must happen."""

    name: str
    location: Location
    flow: str
    requester: str
    fields: Mapping[str, Any]
    channel: str
    # A bot that submits the request for the requester (a ``bot:NAME`` token), if any.
    submitted_by: str | None
    # When the request is made (POSIX seconds), if the case says.
    at: float | None
    answers: Answers
    attempts: tuple[Attempt, ...]
    expect: Mapping[str, Any]

    @property
    def id(self) -> str:
        """``file::name``, as the case is named in output and in --explain."""
        return f"{self.location.file}::{self.name}"


class TestFileError(Exception):
    """A test file cannot be read or states something impossible; ``problems`` say where."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def discover(paths: Sequence[str], config_source: str) -> list[str]:
    """The test files ``paths`` name (files, or folders' ``*.symtest.hcl``), sorted per folder.

    Without paths, the test files next to the config (in its folder, or the folder it is).
    """
    if not paths:
        folder = config_source if os.path.isdir(config_source) else os.path.dirname(config_source)
        paths = [folder or "."]
    found: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        if os.path.isdir(path):
            found.extend(
                str(item)
                for item in sorted(Path(path).iterdir())
                if item.name.endswith(TEST_SUFFIX)
            )
        elif os.path.isfile(path):
            found.append(path)
        else:
            problems.append(Problem(None, f"{path}: no such file or folder"))
    if problems:
        raise TestFileError(problems)
    return found


def load_cases(files: Sequence[str], config: Config) -> list[Case]:
    """Every case of ``files``, checked against ``config``; TestFileError with every problem."""
    problems: list[Problem] = []
    cases: list[Case] = []
    seen: dict[str, Location] = {}
    for name in files:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            problems.append(Problem(None, f"{name}: cannot read: {reason}"))
            continue
        for case in _read_file(text, name, config, problems):
            if case.id in seen:
                problems.append(
                    Problem(case.location, f"case {case.name} is defined twice in this file")
                )
                continue
            seen[case.id] = case.location
            cases.append(case)
    if problems:
        raise TestFileError(problems)
    return cases


def _read_file(text: str, file: str, config: Config, problems: list[Problem]) -> list[Case]:
    root, found = parse_file(text, file)
    problems.extend(found)
    if root is None:
        return []
    evaluator = Evaluator(
        variables={},
        locals_={},
        resources={},
        resource_args=resource_args,
        environ={},
        problems=problems,
    )
    reader = _Reader(evaluator, problems)
    for attribute in root.attributes:
        problems.append(Problem(attribute.location, "a test file holds only case blocks"))
    cases = []
    for block in root.blocks:
        if block.type != "case" or len(block.labels) != 1:
            problems.append(Problem(block.location, 'expected case "NAME" { ... }'))
            continue
        case = _case(block, reader, config)
        if case is not None:
            cases.append(case)
    return cases


class _Reader:
    """Evaluates a block's attributes as constants, recording each problem at its line."""

    def __init__(self, evaluator: Evaluator, problems: list[Problem]) -> None:
        self._evaluator = evaluator
        self.problems = problems

    def values(self, block: Block, allowed: Sequence[str]) -> dict[str, tuple[Any, Location]]:
        """The block's attributes by name with where each was written; unknown ones refused."""
        values: dict[str, tuple[Any, Location]] = {}
        for attribute in block.attributes:
            where = attribute.location
            if attribute.name not in allowed:
                self.problem(where, f"{block.type}: unknown argument {attribute.name}")
                continue
            value = self._evaluator.constant(attribute.expr, where.file, where.line, VALUES)
            if not is_invalid(value):
                values[attribute.name] = (value, where)
        return values

    def problem(self, where: Location, message: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(where, message))


def _case(block: Block, reader: _Reader, config: Config) -> Case | None:
    name = block.labels[0]
    before = len(reader.problems)
    values = reader.values(block, CASE_KEYS)
    flow = _text(values, "flow", reader, block.location, required=True)
    requester = _text(values, "requester", reader, block.location, required=True)
    if flow is not None and config.flow_by_name(flow) is None:
        known = ", ".join(sorted(item.name for item in config.flows.values()))
        reader.problem(values["flow"][1], f"no flow named {show(flow)} (flows: {known})")
    fields: Mapping[str, Any] = {}
    if "fields" in values:
        raw, where = values["fields"]
        if isinstance(raw, dict):
            fields = raw
        else:
            reader.problem(where, 'fields must be an object: { reason = "..." }')
    channel = _text(values, "channel", reader, block.location) or "api"
    if channel not in ("api", "slack"):
        reader.problem(values["channel"][1], 'channel must be "api" or "slack"')
    submitted_by = _text(values, "submitted_by", reader, block.location)
    if submitted_by is not None and not submitted_by.startswith("bot:"):
        reader.problem(values["submitted_by"][1], 'submitted_by names a bot: "bot:NAME"')
    at = _moment(values, reader)
    answers = Answers.none()
    attempts: list[Attempt] = []
    expect: dict[str, Any] | None = None
    seen: set[str] = set()
    for inner in block.blocks:
        if inner.type in seen and inner.type in ("integrations", "expect"):
            reader.problem(inner.location, f"a case has one {inner.type} block")
        seen.add(inner.type)
        if inner.type == "integrations":
            answers = read_answers(_plain_values(inner, reader), inner.location, reader.problem)
        elif inner.type in ("approve", "deny"):
            attempt = _attempt(inner, reader)
            if attempt is not None:
                attempts.append(attempt)
        elif inner.type == "expect":
            expect = _expect(inner, reader)
        else:
            reader.problem(
                inner.location,
                f"unknown block {inner.type} (a case has integrations, approve, deny, expect)",
            )
    stated_attempts = any(item.expect is not None for item in attempts)
    if not expect and not stated_attempts:
        reader.problem(
            block.location,
            f"case {name} expects nothing: add an expect block (or expect in approve or deny)",
        )
    if len(reader.problems) > before or flow is None or requester is None:
        return None
    return Case(
        name=name,
        location=block.location,
        flow=flow,
        requester=requester,
        fields=fields,
        channel=channel,
        submitted_by=None if submitted_by is None else submitted_by.removeprefix("bot:"),
        at=at,
        answers=answers,
        attempts=tuple(attempts),
        expect=expect or {},
    )


def _plain_values(block: Block, reader: _Reader) -> dict[str, tuple[Any, Location]]:
    for inner in block.blocks:
        reader.problem(inner.location, f"{block.type}: unexpected block {inner.type}")
    return reader.values(block, [attribute.name for attribute in block.attributes])


def _text(
    values: Mapping[str, tuple[Any, Location]],
    key: str,
    reader: _Reader,
    where: Location,
    *,
    required: bool = False,
) -> str | None:
    if key not in values:
        if required:
            reader.problem(where, f"{key} is required")
        return None
    value, at = values[key]
    if not isinstance(value, str) or not value:
        reader.problem(at, f"{key} must be a non-empty string, not {show(value)}")
        return None
    return value


def _moment(values: Mapping[str, tuple[Any, Location]], reader: _Reader) -> float | None:
    if "at" not in values:
        return None
    value, where = values["at"]
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        reader.problem(
            where,
            f'at must be a time with its zone, e.g. "2026-01-05T09:30:00Z", not {show(value)}',
        )
        return None
    return moment.timestamp()


def _attempt(block: Block, reader: _Reader) -> Attempt | None:
    values = reader.values(block, ATTEMPT_KEYS)
    by = _text(values, "by", reader, block.location, required=True)
    expect = _text(values, "expect", reader, block.location)
    if expect is not None and expect not in ("allowed", "refused"):
        reader.problem(values["expect"][1], 'expect must be "allowed" or "refused"')
        return None
    if by is None:
        return None
    return Attempt(
        action=block.type,
        by=by,
        reason=_text(values, "reason", reader, block.location),
        expect=expect,
        message_contains=_text(values, "message_contains", reader, block.location),
        location=block.location,
    )


def _expect(block: Block, reader: _Reader) -> dict[str, Any]:
    expect: dict[str, Any] = {}
    for key, (value, where) in reader.values(block, EXPECT_KEYS).items():
        checked = _expected(key, value)
        if isinstance(checked, _Refused):
            reader.problem(where, f"expect: {key} {checked.why}, not {show(value)}")
            continue
        expect[key] = checked
    return expect


@dataclass(frozen=True)
class _Refused:
    why: str


def _expected(key: str, value: Any) -> Any:
    """``value`` as compared with what happened, or why it cannot be expected for ``key``."""
    if key == "outcome":
        return value if value in OUTCOMES else _Refused(f"must be one of {', '.join(OUTCOMES)}")
    if key in ("self_approval", "granted"):
        return value if isinstance(value, bool) else _Refused("must be true or false")
    if key in ("decided_by", "reason", "target", "identity"):
        return (
            value
            if value is None or isinstance(value, str)
            else _Refused("must be a string or null")
        )
    if key == "error_contains":
        return value if isinstance(value, str) and value else _Refused("must be a string")
    if key == "approvers" and value == ANY_USER:
        return value
    if key in ("approvers", "notifications", "hook_errors"):
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return sorted(value) if key == "approvers" else list(value)
        extra = f' (or "{ANY_USER}")' if key == "approvers" else ""
        return _Refused(f"must be a list of strings{extra}")
    # duration: what would be granted, in seconds; null when nothing is.
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    try:
        return parse_duration(value)
    except ValueError:
        return _Refused('must be a duration such as "1h", a number of seconds, or null')
