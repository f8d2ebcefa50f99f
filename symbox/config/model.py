"""The validated configuration: frozen dataclasses that the rest of symbox reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where a block or attribute was written: a file and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Secret:
    """A value read with ``env()``: usable by adapters, never printed, logged or audited."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        """Return the secret value; call only where it is handed to an external system."""
        return self._value

    @property
    def source(self) -> str:
        """Where the value came from, e.g. ``env(SYMBOX_GRANT_SECRET)``; safe to show."""
        return self._source

    def __repr__(self) -> str:
        return f"Secret({self._source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# Settings maps hold strings, numbers, booleans, lists, nested maps and Secrets.
Settings = Mapping[str, Any]


@dataclass(frozen=True)
class Integration:
    """A ``sym_integration``: a connection to Slack, AWS, Okta, PagerDuty, ..."""

    key: str
    name: str
    type: str
    external_id: str
    label: str | None
    settings: Settings
    location: Location


@dataclass(frozen=True)
class Runtime:
    """A ``sym_runtime``: the permission context (an integration key) strategies run with."""

    key: str
    name: str
    label: str | None
    context: str | None
    location: Location


@dataclass(frozen=True)
class ErrorLogger:
    """A ``sym_error_logger``: where errors are reported (a Slack channel)."""

    key: str
    integration: str
    destination: str
    location: Location


@dataclass(frozen=True)
class LogDestination:
    """A ``sym_log_destination``: where audit records are shipped."""

    key: str
    type: str
    integration: str | None
    settings: Settings
    location: Location


@dataclass(frozen=True)
class Environment:
    """A ``sym_environment``: groups flows with their runtime, logger and integrations."""

    key: str
    name: str
    label: str | None
    runtime: str | None
    error_logger: str | None
    log_destinations: tuple[str, ...]
    # Map from Sym's slot names (``slack_id``, ``pagerduty_id``) to integration keys.
    integrations: Mapping[str, str]
    location: Location


@dataclass(frozen=True)
class Target:
    """A ``sym_target``: one thing access can be granted to."""

    key: str
    name: str
    type: str
    label: str | None
    settings: Settings
    field_bindings: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class Strategy:
    """A ``sym_strategy``: how access to its targets is granted and revoked."""

    key: str
    name: str
    type: str
    label: str | None
    targets: tuple[str, ...]
    integration: str | None
    settings: Settings
    implementation: str | None
    location: Location
    # The file a custom strategy's implementation was read from, for error messages.
    implementation_path: str | None = None


@dataclass(frozen=True)
class PromptField:
    """One ``prompt_field`` of a flow's form."""

    name: str
    type: str
    label: str | None
    required: bool
    visible: bool
    default: Any
    # Parsed to the field's type: durations as whole seconds.
    allowed_values: tuple[Any, ...] | None
    prefetch: bool
    # Python source run when the field changes (Sym: on_change = file("on_change.py")).
    on_change: str | None
    location: Location
    # The file on_change was read from, for error messages; None if inline.
    on_change_path: str | None = None


def longest_duration(duration: PromptField | None) -> int | None:
    """The largest allowed value of a ``duration`` field, if it lists them."""
    if duration is None or duration.type != "duration" or not duration.allowed_values:
        return None
    values = [value for value in duration.allowed_values if isinstance(value, int)]
    return max(values) if values else None


@dataclass(frozen=True)
class ApprovalGroup:
    """Part of a flow's quorum: ``count`` approvals from the people a var lists."""

    # The name of the flow's var listing the group (``from``).
    name: str
    # Approver entries (emails, ``bot:NAME``) as permissions compares them.
    members: frozenset[str]
    count: int


@dataclass(frozen=True)
class BreakGlass:
    """A flow's ``break_glass`` block: requesters may grant themselves access, loudly."""

    # The longest grant a requester may give themself this way, in seconds.
    max_duration: int
    # The fewest characters (trimmed) the reason must have.
    reason_min_length: int
    location: Location


@dataclass(frozen=True)
class FlowParams:
    """The ``params`` block of a flow, with Sym's defaults filled in."""

    strategy: str | None
    allow_revoke: bool
    schedule_deescalation: bool
    allowed_sources: tuple[str, ...]
    include_decision_message: bool
    additional_header_text: str | None
    allow_guest_interaction: bool
    prompt_fields: tuple[PromptField, ...]
    # symbox extension: seconds a request waits for a decision before it expires.
    request_ttl: int
    # symbox extension: an escalated run may be extended by up to this many seconds at a
    # time without a new approval (within max_duration); None: every extension is approved.
    extend_without_approval_up_to: int | None = None
    # symbox extension: seconds after the approval during which a failed grant is retried.
    escalate_timeout: int = 300
    # symbox extension: a second open request for the same target is refused unless true.
    allow_duplicate_requests: bool = False
    # symbox extension: at most this many open requests and grants per person (None: any).
    max_active_grants_per_user: int | None = None
    # symbox extension: keys of the webhook and smtp integrations every request goes to.
    notify: tuple[str, ...] = ()
    # symbox extension: distinct approvers a request needs before it is approved.
    approvals_required: int = 1
    # symbox extension: how many of those approvals must come from each named group.
    approvals: tuple[ApprovalGroup, ...] = ()
    # symbox extension: self-granted access without an approver, reviewed afterwards.
    break_glass: BreakGlass | None = None


@dataclass(frozen=True)
class Flow:
    """A ``sym_flow``: what can be requested, how, and with which hooks."""

    key: str
    name: str
    label: str | None
    implementation: str
    # The file the implementation was read from, for error messages; None if inline.
    implementation_path: str | None
    environment: str
    vars: Mapping[str, str]
    params: FlowParams
    location: Location

    @property
    def max_duration(self) -> int | None:
        """The longest grant the flow offers: its ``duration`` field's largest allowed value."""
        return longest_duration(self.field("duration"))

    def field(self, name: str) -> PromptField | None:
        """Return the prompt field called ``name``, if the flow has one."""
        for prompt_field in self.params.prompt_fields:
            if prompt_field.name == name:
                return prompt_field
        return None


@dataclass(frozen=True)
class SecretSource:
    """A ``sym_secrets``: a store secrets are read from (AWS Secrets Manager)."""

    key: str
    name: str
    type: str
    settings: Settings
    location: Location


@dataclass(frozen=True)
class SecretRef:
    """A ``sym_secret``: one secret at ``path`` in a secret source."""

    key: str
    path: str
    source: str
    label: str | None
    settings: Settings
    location: Location


@dataclass(frozen=True)
class FlowsFilter:
    """A ``sym_flows_filter``: a ``get_flows`` reducer."""

    key: str
    implementation: str
    vars: Mapping[str, str]
    integrations: Mapping[str, str]
    location: Location


@dataclass(frozen=True)
class Config:
    """Everything read from ``config.hcl`` (or a folder of ``*.hcl``), validated.

    Every mapping is keyed by the resource's Terraform label (``resource "sym_flow"
    "KEY"``); ``name`` is the ``name`` argument, unique within a resource type.
    """

    files: tuple[str, ...]
    integrations: Mapping[str, Integration] = field(default_factory=dict)
    runtimes: Mapping[str, Runtime] = field(default_factory=dict)
    error_loggers: Mapping[str, ErrorLogger] = field(default_factory=dict)
    log_destinations: Mapping[str, LogDestination] = field(default_factory=dict)
    environments: Mapping[str, Environment] = field(default_factory=dict)
    targets: Mapping[str, Target] = field(default_factory=dict)
    strategies: Mapping[str, Strategy] = field(default_factory=dict)
    flows: Mapping[str, Flow] = field(default_factory=dict)
    secret_sources: Mapping[str, SecretSource] = field(default_factory=dict)
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    flows_filters: Mapping[str, FlowsFilter] = field(default_factory=dict)
    # Informational messages, e.g. "config.hcl:1: provider block ignored: ...".
    notices: tuple[str, ...] = ()

    def flow_by_name(self, name: str) -> Flow | None:
        """Return the flow whose ``name`` argument is ``name``."""
        for flow in self.flows.values():
            if flow.name == name:
                return flow
        return None
