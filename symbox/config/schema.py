"""The sym_* resources' argument tables and known type names, and checks of values."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from symbox.config.durations import parse_duration
from symbox.config.hcl import Attribute, Block, Problem, display_path, module_dir, show
from symbox.config.model import Location, Secret

# Kinds of argument values, checked by ``coerce`` (references are resolved by the validator).
STRING = "string"
BOOL = "bool"
STRING_MAP = "string_map"
STRING_LIST = "string_list"
SETTINGS = "settings"
DURATION = "duration"
ANY = "any"
REF = "ref"
REF_LIST = "ref_list"
REF_MAP = "ref_map"


class _Invalid:
    """The value of an expression whose problem has already been reported."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<invalid>"


INVALID: Any = _Invalid()


class FileContent(str):
    """Text read by ``file()``; remembers the path it came from for error messages."""

    path: str


# The argument that holds hook or strategy code, or (Sym's other spelling) a path to it.
IMPLEMENTATION = "implementation"


# TYPE.NAME or TYPE.NAME[INDEX] / TYPE.NAME["KEY"]; a quoted key may hold dots and brackets.
# Resources inside modules carry the calls' prefix in their key: module.a.db["x"], and
# module.a["k"].db for a call with for_each.
_INDEX = r'(?:\[(?:\d+|"(?:[^"\\]|\\.)*")\])'
_MODULE_PREFIX = rf'(?:module\.[^.\[\]"]+{_INDEX}?\.)*'
_ADDRESS = re.compile(rf'([^.\[\]"]+)\.({_MODULE_PREFIX}[^.\[\]"]+{_INDEX}?)')
_PREFIX = re.compile(_MODULE_PREFIX)


def address(kind: str, key: str) -> str:
    """How Terraform shows a resource: ``module.a["k"].sym_target.db["x"]``."""
    prefix = module_prefix(key)
    return f"{prefix}{kind}.{key[len(prefix) :]}"


def module_prefix(key: str) -> str:
    """The module calls' prefix of a resource key: ``module.a["k"].`` of ``module.a["k"].db``."""
    match = _PREFIX.match(key)
    return match.group(0) if match else ""


def split_address(value: str) -> tuple[str, str] | None:
    """``(TYPE, KEY)`` of a reference such as ``sym_target.db["a.b"]``, or None."""
    match = _ADDRESS.fullmatch(value)
    return (match.group(1), match.group(2)) if match else None


def is_path(value: Any) -> bool:
    """Tell whether an ``implementation`` value is a path to a Python file, not the code."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return "\n" not in text and text.endswith(".py") and " " not in text


def is_invalid(value: Any) -> bool:
    """Tell whether ``value`` stands for an expression that failed to evaluate."""
    return isinstance(value, _Invalid)


def convert_override(text: str, kind: str | None) -> Any:
    """Read a ``SYMBOX_VAR_NAME`` value as the variable's declared ``type``."""
    if kind == "number":
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {show(text)}") from None
        return number(value)
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError(f"expected true or false, got {show(text)}")
        return text == "true"
    if kind in ("list", "set", "tuple", "map", "object"):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(f"expected JSON for a {kind}") from None
    return text


def to_text(value: Any) -> str:
    """Render a string, number or bool as HCL does when interpolating it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def number(value: float) -> int | float:
    """A number as HCL sees it: whole values as ints, so 1.5e3 counts as an integer."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def is_number(value: Any) -> bool:
    """Tell whether ``value`` is a number (bools are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Arg:
    """One argument of a block: its kind, whether it is required, what it must refer to."""

    kind: str
    required: bool = False
    ref: str | None = None


@dataclass(frozen=True)
class Implemented:
    """What symbox can run today; everything else validates but is refused with a clear error."""

    strategy_types: frozenset[str]
    log_destination_types: frozenset[str]
    # Resource types whose objects symbox uses; the others are parsed and then refused.
    unimplemented_resources: frozenset[str]


# Extend this as strategies, log destinations and resources get implemented.
IMPLEMENTED = Implemented(
    strategy_types=frozenset(
        {
            "http",
            "custom",
            "aws_sso",
            "aws_iam",
            "aws_lambda",
            "okta",
            "github",
            "tailscale",
            "onelogin",
            "aptible",
            "google_group",
        }
    ),
    log_destination_types=frozenset(
        {"file", "kinesis_firehose", "kinesis_data_stream", "http", "datadog", "segment"}
    ),
    unimplemented_resources=frozenset({"sym_flows_filter"}),
)


def _args(**args: Arg) -> Mapping[str, Arg]:
    return MappingProxyType(args)


_NAME = Arg(STRING, required=True)
_LABEL = Arg(STRING)
_SETTINGS = Arg(SETTINGS)

RESOURCES: Mapping[str, Mapping[str, Arg]] = MappingProxyType(
    {
        "sym_flow": _args(
            name=_NAME,
            label=_LABEL,
            implementation=Arg(STRING, required=True),
            environment_id=Arg(REF, required=True, ref="sym_environment"),
            vars=Arg(STRING_MAP),
        ),
        "sym_strategy": _args(
            type=Arg(STRING, required=True),
            name=_NAME,
            targets=Arg(REF_LIST, required=True, ref="sym_target"),
            integration_id=Arg(REF, ref="sym_integration"),
            label=_LABEL,
            settings=_SETTINGS,
            implementation=Arg(STRING),
        ),
        "sym_target": _args(
            type=Arg(STRING, required=True),
            name=_NAME,
            label=_LABEL,
            settings=_SETTINGS,
            field_bindings=Arg(STRING_LIST),
        ),
        "sym_integration": _args(
            type=Arg(STRING, required=True),
            name=_NAME,
            external_id=Arg(STRING, required=True),
            label=_LABEL,
            settings=_SETTINGS,
        ),
        "sym_runtime": _args(
            name=_NAME,
            label=_LABEL,
            context_id=Arg(REF, ref="sym_integration"),
        ),
        "sym_environment": _args(
            name=_NAME,
            label=_LABEL,
            runtime_id=Arg(REF, ref="sym_runtime"),
            error_logger_id=Arg(REF, ref="sym_error_logger"),
            log_destination_ids=Arg(REF_LIST, ref="sym_log_destination"),
            integrations=Arg(REF_MAP, ref="sym_integration"),
        ),
        "sym_error_logger": _args(
            integration_id=Arg(REF, required=True, ref="sym_integration"),
            destination=Arg(STRING, required=True),
        ),
        "sym_log_destination": _args(
            type=Arg(STRING, required=True),
            integration_id=Arg(REF, ref="sym_integration"),
            settings=_SETTINGS,
        ),
        "sym_secrets": _args(
            type=Arg(STRING, required=True),
            name=_NAME,
            label=_LABEL,
            settings=_SETTINGS,
        ),
        "sym_secret": _args(
            path=Arg(STRING, required=True),
            source_id=Arg(REF, required=True, ref="sym_secrets"),
            label=_LABEL,
            settings=_SETTINGS,
        ),
        "sym_flows_filter": _args(
            implementation=Arg(STRING, required=True),
            vars=Arg(STRING_MAP),
            integrations=Arg(REF_MAP, ref="sym_integration"),
        ),
    }
)

# Nested blocks each resource type accepts (at most one of each).
RESOURCE_BLOCKS: Mapping[str, frozenset[str]] = MappingProxyType(
    {"sym_flow": frozenset({"params"})}
)

PARAMS = _args(
    strategy_id=Arg(REF, ref="sym_strategy"),
    allow_revoke=Arg(BOOL),
    schedule_deescalation=Arg(BOOL),
    allowed_sources=Arg(STRING_LIST),
    include_decision_message=Arg(BOOL),
    additional_header_text=Arg(STRING),
    allow_guest_interaction=Arg(BOOL),
    request_ttl=Arg(DURATION),
    extend_without_approval_up_to=Arg(DURATION),
    escalate_timeout=Arg(DURATION),
    allow_duplicate_requests=Arg(BOOL),
    max_active_grants_per_user=Arg(ANY),
    # symbox extension: a quorum of distinct approvers, in total and from named groups.
    approvals_required=Arg(ANY),
    approvals=Arg(ANY),
    # symbox extension: webhook and smtp integrations every request of the flow goes to.
    notify_ids=Arg(REF_LIST, ref="sym_integration"),
)

# symbox extension: ``break_glass { ... }`` inside a flow's params.
BREAK_GLASS = _args(
    max_duration=Arg(DURATION, required=True),
    reason_min_length=Arg(ANY),
)

PROMPT_FIELD = _args(
    name=Arg(STRING),
    type=Arg(STRING, required=True),
    label=Arg(STRING),
    required=Arg(BOOL),
    visible=Arg(BOOL),
    default=Arg(ANY),
    allowed_values=Arg(ANY),
    prefetch=Arg(BOOL),
    on_change=Arg(STRING),
)

VARIABLE = _args(
    default=Arg(ANY),
    type=Arg(ANY),
    description=Arg(STRING),
    sensitive=Arg(BOOL),
    nullable=Arg(BOOL),
)

ALLOWED_SOURCES = ("slack", "api")
DEFAULT_REQUEST_TTL = "24h"
DEFAULT_ESCALATE_TIMEOUT = "5m"
PROMPT_FIELD_TYPES = (
    "string",
    "str_list",
    "int",
    "int_list",
    "bool",
    "duration",
    "slack_user",
    "slack_user_list",
)
# Which target types each strategy type grants; ``http`` is symbox's own extension.
STRATEGY_TARGET_TYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "aws_sso": frozenset({"aws_sso_permission_set", "aws_sso_group"}),
        "aws_iam": frozenset({"aws_iam_group"}),
        "okta": frozenset({"okta_group"}),
        "github": frozenset({"github_repo"}),
        "tailscale": frozenset({"tailscale_group"}),
        "onelogin": frozenset({"onelogin_role"}),
        "aptible": frozenset({"aptible_role"}),
        "google_group": frozenset({"google_group"}),
        "aws_lambda": frozenset({"aws_lambda_function"}),
        "custom": frozenset({"custom"}),
        "http": frozenset({"custom"}),
    }
)
TARGET_TYPES = frozenset().union(*STRATEGY_TARGET_TYPES.values())
INTEGRATION_TYPES = frozenset(
    {
        "slack",
        "permission_context",
        "okta",
        "github",
        "pagerduty",
        "knowbe4",
        "custom",
        "aws_lambda",
        "google",
        "onelogin",
        "aptible",
        "tailscale",
        "boundary",
        "segment",
        "datadog",
        # symbox's own: where request notifications are delivered besides Slack.
        "webhook",
        "smtp",
    }
)
LOG_DESTINATION_TYPES = frozenset(
    {"kinesis_firehose", "kinesis_data_stream", "http", "datadog", "segment", "file"}
)
SECRET_SOURCE_TYPES = frozenset({"aws_secrets_manager"})


def resource_args(resource_type: str) -> frozenset[str] | None:
    """The argument names of a resource type, or None if symbox does not know the type."""
    table = RESOURCES.get(resource_type)
    return None if table is None else frozenset(table)


def known(names: frozenset[str] | tuple[str, ...]) -> str:
    """List names for a message: ``a, b, c``."""
    return ", ".join(sorted(names))


def coerce(kind: str, value: Any) -> Any:
    """Check ``value`` against an argument kind and normalise it; raise ValueError to explain."""
    if isinstance(value, Secret) and kind not in (SETTINGS, ANY):
        raise ValueError(f"{value.source} is a secret: secrets can only be used in settings")
    if kind == STRING:
        return _string(value, "expected a string")
    if kind == BOOL:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind == STRING_MAP:
        if not isinstance(value, dict):
            raise ValueError("expected a map of strings")
        return {key: _string(item, "expected a map of strings") for key, item in value.items()}
    if kind == STRING_LIST:
        if not isinstance(value, list):
            raise ValueError("expected a list of strings")
        return tuple(_string(item, "expected a list of strings") for item in value)
    if kind == SETTINGS:
        if not isinstance(value, dict):
            raise ValueError('expected a map, e.g. settings = { key = "value" }')
        return freeze(value)
    if kind == DURATION:
        return duration(value)
    return value


def duration(value: Any) -> int:
    """A duration written as ``"1h"`` (or a positive number of seconds), in seconds."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f"invalid duration {show(value)}: expected e.g. 30s, 10m, 1h, 2d or 1mo")


def freeze(value: Any) -> Any:
    """Settings as stored in the model: maps without nulls, lists as tuples."""
    if isinstance(value, dict):
        # A null setting means "not set", as in Terraform.
        return {key: freeze(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def _string(value: Any, message: str) -> str:
    # Terraform converts numbers and bools to strings where a string is expected.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Secret):
        raise ValueError(f"{value.source} is a secret: secrets can only be used in settings")
    if not isinstance(value, str):
        raise ValueError(message)
    return str(value)


def field_value(field_type: str, value: Any) -> Any:
    """Check a prompt field's ``default`` or allowed value against the field's type."""
    if field_type.endswith("_list"):
        if not isinstance(value, list):
            raise ValueError(f"expected a list for a {field_type} field, got {show(value)}")
        return tuple(field_value(field_type[: -len("_list")], item) for item in value)
    if field_type in ("string", "str", "slack_user"):
        return _string(value, f"expected a string, got {show(value)}")
    if field_type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {show(value)}")
        return value
    if field_type == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {show(value)}")
        return value
    return duration(value)


def prompt_values(
    field_type: str, allowed_raw: Any, default_raw: Any
) -> tuple[tuple[Any, ...] | None, Any, list[tuple[str, str]]]:
    """A prompt field's allowed values and default, parsed; plus (argument, problem) pairs."""
    errors: list[tuple[str, str]] = []
    allowed: tuple[Any, ...] | None = None
    if allowed_raw is not None:
        try:
            if not isinstance(allowed_raw, list):
                raise ValueError("expected a list")
            item_type = field_type.removesuffix("_list")
            allowed = tuple(field_value(item_type, item) for item in allowed_raw)
        except ValueError as error:
            errors.append(("allowed_values", f"allowed_values: {error}"))
    if default_raw is None:
        return allowed, None, errors
    try:
        default = field_value(field_type, default_raw)
    except ValueError as error:
        return allowed, None, [*errors, ("default", f"default: {error}")]
    items = default if isinstance(default, tuple) else (default,)
    if allowed is not None and any(item not in allowed for item in items):
        errors.append(("default", f"default {show(default_raw)} is not one of allowed_values"))
    return allowed, default, errors


@dataclass
class Args:
    """The checked arguments of one block: values, where each was written, file() paths."""

    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, Location] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    ok: bool = True
    # Arguments whose value failed (already reported): checks of what they hold are skipped.
    failed: set[str] = field(default_factory=set)


class Reader:
    """Checks blocks against argument tables, resolving references to resource keys."""

    def __init__(self, resources: Mapping[tuple[str, str], Block], problems: list[Problem]):
        self._resources = resources
        self._problems = problems

    def named(self, kind: str, text: str) -> str | None:
        """The key of the ``kind`` resource whose key, or name, is ``text`` (None if none).

        The Reader knows keys only; a Builder that can evaluate names overrides this.
        """
        return text if (kind, text) in self._resources else None

    def problem(self, location: Location | None, message: str) -> None:
        """Record a problem."""
        self._problems.append(Problem(location, message))

    def read(
        self,
        block: Block,
        table: Mapping[str, Arg],
        where: str,
        value_of: Callable[[Attribute], Any],
        *,
        evaluate: bool = True,
    ) -> Args:
        """Check a block's arguments against ``table``; report every problem found."""
        args = Args()
        for attribute in block.attributes:
            name, at = attribute.name, attribute.location
            if name in args.lines:
                first = args.lines[name].line
                self.problem(at, f"{where}: {name} is set twice (first at line {first})")
                args.ok = False
                continue
            args.lines[name] = at
            arg = table.get(name)
            if arg is None:
                choices = known(frozenset(table))
                self.problem(at, f"{where}: unknown argument {name} (expected one of: {choices})")
                args.ok = False
            elif evaluate:
                self._value(args, attribute, arg, where, value_of(attribute))
        for name, arg in table.items():
            if arg.required and name not in args.lines:
                self.problem(block.location, f"{where}: missing required argument {name}")
                args.ok = False
        return args

    def _value(self, args: Args, attribute: Attribute, arg: Arg, where: str, raw: Any) -> None:
        name, at = attribute.name, attribute.location
        if is_invalid(raw):
            args.ok = False
            args.failed.add(name)
            return
        if raw is None:
            if arg.required:
                self.problem(at, f"{where}: {name} must not be null")
                args.ok = False
            return
        try:
            value = self._coerce(arg, raw)
        except ValueError as error:
            self.problem(at, f"{where}: {name}: {error}")
            args.ok = False
            args.failed.add(name)
            return
        if name == IMPLEMENTATION and not isinstance(raw, FileContent) and is_path(value):
            # Sym's provider takes a path here as well as the code (file("...")).
            content = self._read_implementation(value, at, where)
            if content is None:
                args.ok = False
                return
            raw = value = content
        if isinstance(raw, FileContent):
            args.paths[name] = raw.path
        args.values[name] = value

    def _read_implementation(self, value: str, at: Location, where: str) -> FileContent | None:
        """The file a bare ``implementation`` path names, relative to the file that names it."""
        relative = value.strip()
        full = os.path.normpath(os.path.join(module_dir(at.file), relative))
        shown = display_path(full, at.file)
        try:
            with open(full, encoding="utf-8-sig") as handle:
                content = FileContent(handle.read())
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            self.problem(at, f"{where}: implementation: cannot read {shown}: {reason}")
            return None
        content.path = shown
        return content

    def _coerce(self, arg: Arg, raw: Any) -> Any:
        if arg.kind == REF:
            return self.resolve(raw, arg.ref or "")
        if arg.kind == REF_LIST:
            if not isinstance(raw, list):
                raise ValueError(f"expected a list of {arg.ref} references")
            return tuple(self.resolve(item, arg.ref or "") for item in raw)
        if arg.kind == REF_MAP:
            if not isinstance(raw, dict):
                raise ValueError(f"expected a map of {arg.ref} references")
            return {slot: self.resolve(item, arg.ref or "") for slot, item in raw.items()}
        value = coerce(arg.kind, raw)
        return str(value) if isinstance(value, str) else value

    def resolve(self, value: Any, kind: str) -> str:
        """The key of the ``kind`` resource that ``value`` (``kind.KEY``) refers to."""
        expected = f"expected a reference to a {kind} ({kind}.NAME.id)"
        # Instance keys (db["a.b"]) may hold dots, so the address is parsed, not split.
        address = split_address(value) if isinstance(value, str) else None
        if address is None and isinstance(value, str):
            # A value from a variable or tfvars file (Sym kept ids there): the resource's
            # key or its name in this config.
            found = self.named(kind, value)
            if found is not None:
                return found
        if address is None:
            shown = show(value)
            raise ValueError(
                f"{expected}, got {shown}, which is neither the key nor the name of a {kind}"
                if isinstance(value, str)
                else f"{expected}, got {shown}"
            )
        ref_type, key = address
        if (ref_type, key) not in self._resources:
            raise ValueError(f"reference to undefined resource {value}")
        if ref_type != kind:
            raise ValueError(f"{expected}, got {value}")
        return key
