"""Run Sym-style hooks and reducers through the worker pool and read their replies."""

from __future__ import annotations

import ast
import hashlib
import types
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from symbox.metrics import Metrics
from symbox.sandbox.errors import HookError, HookTimeout
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.scope import scope_name
from symbox.sandbox.policy import HookPolicy
from symbox.sandbox.pool import HookPool
from symbox.sandbox.sdk.forms import FORM_KEY
from symbox.sandbox.sdk.notifications import NOTIFICATION_KEY
from symbox.sandbox.sdk.request_permission import MAX_APPROVALS, PERMISSION_KEY
from symbox.sandbox.sdk.templates import TEMPLATE_ACTIONS, TEMPLATE_KEY

STEPS = frozenset(
    {
        "prompt",
        "request",
        "request_forward",
        "request_expire",
        "approve",
        "deny",
        "escalate",
        "deescalate",
        "extend",
        "break_glass",
    }
)
WHENS = frozenset({"on", "after"})
# How many hook modules' defined names are kept; a deployment has few hook files.
_NAMES_CACHE_SIZE = 256
# How much of a bad return value an error message quotes.
_QUOTE_LIMIT = 80

Action = Literal["continue", "approve", "deny", "ignore"]
Destination = str | Mapping[str, Any]


@dataclass(frozen=True)
class HookOutcome:
    """What an `on_*` hook decided: continue as normal, or approve/deny/ignore with a message."""

    CONTINUE: ClassVar[HookOutcome]

    action: Action
    message: str | None = None


HookOutcome.CONTINUE = HookOutcome("continue")


@dataclass(frozen=True)
class Permission:
    """`get_permissions`: level names ("ADMIN"...) or emails, and whether self-approval is on."""

    approve_deny: str | tuple[str, ...]
    webapp_view: str | tuple[str, ...]
    allow_self_approval: bool = False
    # symbox's own: distinct approvers needed; None keeps the flow's.
    approvals_required: int | None = None


@dataclass(frozen=True)
class NotificationSpec:
    """One place a request is posted; later specs are backups after the previous `timeout`."""

    destinations: tuple[Destination, ...]
    timeout: float | None = None


class HookRunner:
    """Runs one flow's hook module: `on_*`/`after_*` hooks and the reducers."""

    def __init__(
        self, pool: HookPool, *, timeout: float | None = None, metrics: Metrics | None = None
    ) -> None:
        self._pool = pool
        self._timeout = timeout
        self._metrics = metrics or Metrics()
        # Compiling on the host too gives compile errors early and tells which hooks exist.
        self._policy = HookPolicy(modules={})
        self._names: OrderedDict[str, Mapping[str, int]] = OrderedDict()

    def defined(self, source: str, filename: str) -> Mapping[str, int]:
        """Top-level names the module defines, with their lines (HookCompileError if invalid)."""
        key = hashlib.sha256(f"{filename}\0{source}".encode()).hexdigest()
        names = self._names.get(key)
        if names is not None:
            self._names.move_to_end(key)
            return names
        self._policy.compile(source, filename)
        names = types.MappingProxyType(_top_level_names(ast.parse(source, filename)))
        self._names[key] = names
        if len(self._names) > _NAMES_CACHE_SIZE:
            self._names.popitem(last=False)
        return names

    async def run_hook(
        self,
        source: str,
        filename: str,
        step: str,
        when: str,
        event: Mapping[str, Any],
        *,
        integrations: IntegrationProvider | None = None,
    ) -> HookOutcome:
        """Run `on_<step>` / `after_<step>` if defined; only `on_*` may redirect the step."""
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}")
        if when not in WHENS:
            raise ValueError(f"`when` must be 'on' or 'after', not {when!r}")
        function = f"{when}_{step}"
        value, line = await self._call(source, filename, function, event, integrations)
        if line is None or when == "after" or value is None:
            # after_* hooks run for their side effects; their return value means nothing.
            return HookOutcome.CONTINUE
        if isinstance(value, dict) and value.get(TEMPLATE_KEY) in TEMPLATE_ACTIONS:
            message = value.get("message")
            if message is None or isinstance(message, str):
                return HookOutcome(value[TEMPLATE_KEY], message)
        raise _bad_return(function, value, "None or an ApprovalTemplate", filename, line)

    async def reduce_permissions(
        self,
        source: str,
        filename: str,
        event: Mapping[str, Any],
        *,
        integrations: IntegrationProvider | None = None,
    ) -> Permission | None:
        """Run `get_permissions(event)`; None when the module does not define it."""
        function = "get_permissions"
        value, line = await self._call(source, filename, function, event, integrations)
        if line is None:
            return None
        spec = value.get(PERMISSION_KEY) if isinstance(value, dict) else None
        approve_deny = _who(spec.get("approve_deny")) if isinstance(spec, dict) else None
        webapp_view = _who(spec.get("webapp_view")) if isinstance(spec, dict) else None
        if spec is None or approve_deny is None or webapp_view is None:
            raise _bad_return(function, value, "a RequestPermission", filename, line)
        return Permission(
            approve_deny=approve_deny,
            webapp_view=webapp_view,
            allow_self_approval=spec.get("allow_self_approval") is True,
            approvals_required=_approvals_required(spec.get("approvals_required")),
        )

    async def reduce_identity(
        self,
        source: str,
        filename: str,
        event: Mapping[str, Any],
        *,
        integrations: IntegrationProvider | None = None,
    ) -> str | None:
        """Run `get_identity(event)`: the name it gives; None if undefined or it says None."""
        function = "get_identity"
        value, line = await self._call(source, filename, function, event, integrations)
        if line is None or value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise _bad_return(function, value, "a non-empty str or None", filename, line)
        return value.strip()

    async def reduce_notifications(
        self,
        source: str,
        filename: str,
        event: Mapping[str, Any],
        *,
        integrations: IntegrationProvider | None = None,
    ) -> tuple[NotificationSpec, ...] | None:
        """Run `get_request_notifications(event)`, else the older `get_approvers(event)`."""
        names = self.defined(source, filename)
        if "get_request_notifications" in names:
            function = "get_request_notifications"
            value, line = await self._call(source, filename, function, event, integrations)
            specs = _notifications(value) if line is not None else None
            if specs is None:
                expected = "a list of Notification"
                raise _bad_return(function, value, expected, filename, line)
            return specs
        if "get_approvers" in names:
            function = "get_approvers"
            value, line = await self._call(source, filename, function, event, integrations)
            destinations = _destinations(value)
            if destinations is None:
                raise _bad_return(function, value, "a destination", filename, line)
            return (NotificationSpec(destinations),) if destinations else ()
        return None

    def prefetchers(self, source: str, filename: str) -> Mapping[str, tuple[str, int]]:
        """Prefetch reducers by field name: (function, line of its def)."""
        self.defined(source, filename)
        return prefetch_functions(ast.parse(source, filename))

    async def prefetch(
        self,
        source: str,
        filename: str,
        field_name: str,
        event: Mapping[str, Any],
        *,
        integrations: IntegrationProvider | None = None,
    ) -> Any:
        """Run the prefetch reducer of ``field_name``: its plain reply (None if undefined)."""
        found = self.prefetchers(source, filename).get(field_name)
        if found is None:
            return None
        value, _ = await self._call(source, filename, found[0], event, integrations)
        return value

    async def on_change(
        self,
        source: str,
        filename: str,
        function: str,
        username: str,
        form: Mapping[str, Any],
        *,
        integrations: IntegrationProvider | None = None,
    ) -> Any:
        """Run ``function(username, form)``: the form it returns, as plain data."""
        line = self.defined(source, filename).get(function)
        if line is None:
            raise HookError(f"{filename} defines no {function}", file=filename)
        value = await self._run(
            source,
            filename,
            function,
            [username, dict(form)],
            integrations,
            wrap_event=False,
            wrap_form=True,
        )
        returned = value.get(FORM_KEY) if isinstance(value, dict) else None
        if not isinstance(returned, dict):
            raise _bad_return(function, value, "the form it was given", filename, line)
        return returned

    async def _call(
        self,
        source: str,
        filename: str,
        function: str,
        event: Mapping[str, Any],
        integrations: IntegrationProvider | None = None,
    ) -> tuple[Any, int | None]:
        """Call `function(event)` if defined: (value, line of its def), or (None, None)."""
        line = self.defined(source, filename).get(function)
        if line is None:
            return None, None
        value = await self._run(source, filename, function, [dict(event)], integrations)
        return value, line

    async def _run(
        self,
        source: str,
        filename: str,
        function: str,
        args: list[Any],
        integrations: IntegrationProvider | None,
        *,
        wrap_event: bool = True,
        wrap_form: bool = False,
    ) -> Any:
        """Call ``function(*args)`` through the pool, counted by outcome."""
        outcome = "error"
        try:
            value = await self._pool.call(
                source,
                filename,
                function,
                args,
                timeout=self._timeout,
                wrap_event=wrap_event,
                wrap_form=wrap_form,
                integrations=integrations,
                scope=scope_name(integrations),
            )
            outcome = "ok"
        except HookTimeout:
            outcome = "timeout"
            raise
        finally:
            self._metrics.count(
                "symbox_hook_calls_total",
                "Hook and reducer calls by outcome (ok, error, timeout).",
                hook=function,
                outcome=outcome,
            )
        return value


def _top_level_names(module: ast.Module) -> dict[str, int]:
    names: dict[str, int] = {}
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names[node.name] = node.lineno
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node.lineno
    return names


def prefetch_functions(module: ast.Module) -> dict[str, tuple[str, int]]:
    """Top-level functions decorated ``@prefetch(field_name="x")``, by field name."""
    found: dict[str, tuple[str, int]] = {}
    for node in module.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            field = _prefetch_field(decorator)
            if field is not None:
                found.setdefault(field, (node.name, node.lineno))
    return found


def _prefetch_field(decorator: ast.expr) -> str | None:
    if not isinstance(decorator, ast.Call):
        return None
    function = decorator.func
    name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
    if name != "prefetch":
        return None
    arguments = [*decorator.args, *(k.value for k in decorator.keywords if k.arg == "field_name")]
    first = arguments[0] if arguments else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _bad_return(
    function: str, value: object, expected: str, filename: str, line: int | None
) -> HookError:
    shown = repr(value)
    if len(shown) > _QUOTE_LIMIT:
        shown = shown[: _QUOTE_LIMIT - 3] + "..."
    return HookError(
        f"{function} returned {shown}; expected {expected}",
        file=filename,
        line=line,
        type_name="TypeError",
    )


def _who(value: object) -> str | tuple[str, ...] | None:
    """A level name or emails; None for anything else (a hook forging the SDK's marker)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _destination(value: object) -> Destination | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        return types.MappingProxyType(value)
    return None


def _destinations(value: object) -> tuple[Destination, ...] | None:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    result = tuple(_destination(item) for item in items)
    return None if None in result else result  # type: ignore[return-value]


def _notifications(value: object) -> tuple[NotificationSpec, ...] | None:
    if not isinstance(value, list):
        return None
    specs = []
    for item in value:
        spec = item.get(NOTIFICATION_KEY) if isinstance(item, dict) else None
        if not isinstance(spec, dict):
            return None
        destinations = _destinations(spec.get("destinations"))
        timeout = spec.get("timeout")
        if destinations is None or not (timeout is None or isinstance(timeout, int | float)):
            return None
        specs.append(NotificationSpec(destinations, None if timeout is None else float(timeout)))
    return tuple(specs)


def _approvals_required(value: object) -> int | None:
    # The sandbox checked it; a reply forged around RequestPermission counts as one approval.
    if type(value) is int and 1 <= value <= MAX_APPROVALS:
        return value
    return None
