"""A flow's request form as its hooks shape it: prefetch reducers and `on_change` functions.

Slack asks for prefetched options when a requester opens a drop-down and runs a field's
`on_change` when it changes; a request (from Slack or the API) is checked against the
form its values lead to, built the same way, so both surfaces allow the same requests.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from symbox.clock import Clock
from symbox.config.durations import iso
from symbox.config.model import Config, Flow, PromptField
from symbox.engine.forms import (
    MAX_OPTION_TEXT,
    FormError,
    FormState,
    Option,
    config_options,
    form_payload,
    has_on_change,
    initial_form,
    on_change_function,
    read_form,
    read_options,
    shapes_form,
    with_values,
)
from symbox.engine.inputs import form_value, form_values
from symbox.flowhooks.integrations import (
    EnvironmentIntegrations,
    HookCall,
    environment_integrations,
)
from symbox.sandbox.errors import HookCompileError, HookFailure
from symbox.sandbox.hooks import HookRunner, prefetch_functions
from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.policy import HookPolicy
from symbox.sandbox.views import flow_view, user_view

log = logging.getLogger(__name__)

# Prefetched options by field name.
Prefetched = Mapping[str, tuple[Option, ...]]


def prompt_event(flow: Flow, config: Config, requester: str, clock: Clock) -> dict[str, Any]:
    """The event a prefetch reducer receives: the ``prompt`` step, before any run exists."""
    return {
        "name": "prompt",
        "user": user_view(requester),
        "payload": {"fields": {}, "timestamp": iso(clock.now())},
        "flow": flow_view(flow, config),
        "run": {"id": None, "actors": {}},
        "context": {},
    }


def implementation_file(flow: Flow) -> str:
    """How errors name the flow's hook file (inline code gets a clear stand-in)."""
    return flow.implementation_path or f"<{flow.name} implementation>"


def on_change_file(flow: Flow, field: PromptField) -> str:
    """How errors name a field's on_change file."""
    return field.on_change_path or f"<{flow.name} {field.name} on_change>"


@dataclass(frozen=True)
class _Pass:
    """What one pass over the form found."""

    form: FormState
    # Values on_change functions filled into empty fields, and sent values that ended
    # up hidden after steering an on_change.
    added: dict[str, Any]
    hidden: set[str]


def _unsent(flow: Flow, name: str, filled: Mapping[str, Any]) -> Any:
    """What a field holds when nothing is sent for it (as ``form_value`` reads it)."""
    field = flow.field(name)
    value = filled.get(name, field.default if field is not None else None)
    return False if value is None and field is not None and field.type == "bool" else value


class FlowForms:
    """Runs the hooks that shape flows' request forms."""

    def __init__(
        self,
        runner: HookRunner,
        config: Config,
        clock: Clock,
        scopes: Mapping[str, IntegrationProvider] | None = None,
        environments: Mapping[str, EnvironmentIntegrations] | None = None,
    ) -> None:
        self._runner = runner
        self._config = config
        self._clock = clock
        self._scopes = dict(scopes or {})
        self._environments = (
            dict(environments) if environments is not None else environment_integrations(config)
        )

    async def options(
        self, flow: Flow, requester: str, field: PromptField
    ) -> tuple[Option, ...] | str:
        """The options ``field``'s prefetch reducer gives ``requester``; the error text."""
        call = HookCall(
            self._scopes.get(flow.environment), self._environments.get(flow.environment)
        )
        event = call.bind(prompt_event(flow, self._config, requester, self._clock))
        filename = implementation_file(flow)
        try:
            reply = await self._runner.prefetch(
                flow.implementation,
                filename,
                field.name,
                event,
                integrations=call.integrations,
            )
            return read_options(reply, f"{filename}: prefetch reducer of {field.name}", field.type)
        except (HookFailure, FormError) as error:
            log.warning("prefetch failed", extra={"flow": flow.name, "error": str(error)})
            return call.scrub(str(error))
        finally:
            call.close()

    async def changed(
        self, flow: Flow, requester: str, state: FormState, field: PromptField
    ) -> FormState | str:
        """The form after ``field``'s on_change ran on ``state``; the error text."""
        if field.on_change is None:
            return state
        filename = on_change_file(flow, field)
        function = on_change_function(field)
        try:
            reply = await self._runner.on_change(
                field.on_change,
                filename,
                function,
                requester,
                form_payload(state, flow.vars),
                integrations=self._scopes.get(flow.environment),
            )
            return read_form(state, reply, f"{filename}: {function}")
        except (HookFailure, FormError) as error:
            log.warning("on_change failed", extra={"flow": flow.name, "error": str(error)})
            return str(error)

    async def prefetched(self, flow: Flow, requester: str) -> Prefetched | str:
        """Every prefetched field's options for ``requester``; the first error text."""
        found: dict[str, tuple[Option, ...]] = {}
        for field in flow.params.prompt_fields:
            if field.prefetch:
                options = await self.options(flow, requester, field)
                if isinstance(options, str):
                    return options
                found[field.name] = options
        return found

    async def build(
        self, flow: Flow, requester: str, values: Mapping[str, Any], prefetched: Prefetched
    ) -> FormState | str:
        """The form ``values`` (typed, see ``form_values``) lead to; the error text.

        The form starts from the config with the prefetched options; then each visible
        field with an on_change and a value runs it, in field order, as if the form were
        filled top to bottom. Before each, fields hold what would be stored: the sent
        value, else one an on_change filled in, else the default (always the default
        when hidden). When a pass fills a field in, or hides a field a value was sent
        for, it runs again from the top with that (the filled value's own on_change
        runs; the hidden value steers nothing), until the form settles.
        """
        filled: dict[str, Any] = {}
        ignored: set[str] = set()
        for _ in range(2 * len(flow.params.prompt_fields) + 4):
            sent = {name: value for name, value in values.items() if name not in ignored}
            found = await self._pass(flow, requester, sent, filled, prefetched)
            if isinstance(found, str):
                return found
            if not found.added and not found.hidden:
                return replace(found.form, dropped=frozenset(ignored))
            if found.hidden:
                # What the hidden values filled in goes too: start again without them.
                ignored |= found.hidden
                filled.clear()
            else:
                filled.update(found.added)
        return f"{flow.name}: the on_change functions do not settle on one form"

    async def _pass(
        self,
        flow: Flow,
        requester: str,
        sent: Mapping[str, Any],
        filled: Mapping[str, Any],
        prefetched: Prefetched,
    ) -> _Pass | str:
        """One top-to-bottom pass: the form, values newly filled in, sent values hidden."""
        added: dict[str, Any] = {}
        # Fields an on_change saw while visible: only those can have steered the form.
        seen: set[str] = set()
        state = with_values(flow, initial_form(flow, {}, prefetched), sent, filled)
        for field in flow.params.prompt_fields:
            current = state.field(field.name)
            if field.on_change is None or current is None:
                continue
            if not current.visible or current.value is None:
                continue
            seen.update(item.name for item in state.fields if item.visible)
            changed = await self.changed(flow, requester, state, field)
            if isinstance(changed, str):
                return changed
            for item in changed.fields:
                before = state.field(item.name)
                moved = before is not None and before.value != item.value
                empty = sent.get(item.name) is None and filled.get(item.name) is None
                if moved and empty and item.value is not None:
                    value = form_value(item.type, item.value)
                    if value is None:
                        return (
                            f"{on_change_file(flow, field)}: {on_change_function(field)} set"
                            f" {item.name} to {item.value!r}, which is not a {item.type} value"
                        )
                    added[item.name] = value
            state = with_values(flow, changed, sent, {**filled, **added})
        hidden = {
            item.name
            for item in state.fields
            if item.name in seen
            and not item.visible
            and sent.get(item.name) != _unsent(flow, item.name, filled)
        }
        return _Pass(state, added, hidden)

    async def submitted(
        self, flow: Flow, requester: str, inputs: Mapping[str, Any]
    ) -> FormState | str | None:
        """The form a request's ``inputs`` lead to, to check it against; None if no hook
        shapes the flow's form."""
        if not shapes_form(flow):
            return None
        prefetched = await self.prefetched(flow, requester)
        if isinstance(prefetched, str):
            return prefetched
        return await self.build(flow, requester, form_values(flow, inputs), prefetched)


def filled_inputs(inputs: Mapping[str, Any], form: FormState | None) -> dict[str, Any]:
    """``inputs`` with the values on_change functions filled into fields left empty, and
    without the values the form dropped."""
    result = dict(inputs)
    for name in form.dropped if form is not None else ():
        result.pop(name, None)
    for item in form.fields if form is not None else ():
        if item.visible and result.get(item.name) is None and item.value is not None:
            result[item.name] = item.value
    return result


def check_forms(config: Config) -> list[str]:
    """Problems with flows' prefetch reducers and on_change files, each as file:line."""
    policy = HookPolicy()
    problems: list[str] = []
    for flow in config.flows.values():
        filename = implementation_file(flow)
        try:
            reducers = prefetch_functions(ast.parse(flow.implementation, filename))
        except SyntaxError:
            reducers = {}  # reported where the implementation is compiled
        fields = {field.name: field for field in flow.params.prompt_fields}
        for name, (function, line) in sorted(reducers.items()):
            field = fields.get(name)
            if field is None or not field.prefetch:
                problems.append(
                    f"{filename}:{line}: {function} is a prefetch reducer for {name}, which is"
                    f" not a prompt_field of flow {flow.name} with prefetch = true"
                )
        changes = has_on_change(flow)
        for field in flow.params.prompt_fields:
            options = (config_options(field) if changes else None) or ()
            long = [o.value for o in options if not o.label or len(o.label) > MAX_OPTION_TEXT]
            if long:
                problems.append(
                    f"{field.location}: {flow.name}: prompt_field {field.name}: allowed value "
                    f"{long[0]!r} must be 1 to {MAX_OPTION_TEXT} characters, as on_change "
                    "functions see each as a FieldOption"
                )
            if field.prefetch and field.name not in reducers:
                problems.append(
                    f"{field.location}: {flow.name}: prompt_field {field.name} has prefetch ="
                    f' true, but {filename} has no function decorated @prefetch(field_name="'
                    f'{field.name}")'
                )
            if field.on_change is not None:
                problems.extend(_check_on_change(policy, flow, field))
    return problems


def _check_on_change(policy: HookPolicy, flow: Flow, field: PromptField) -> list[str]:
    filename = on_change_file(flow, field)
    source = field.on_change or ""
    try:
        policy.compile(source, filename)
    except HookCompileError as error:
        return [str(error)]
    function = on_change_function(field)
    module = ast.parse(source, filename)
    if not any(isinstance(node, ast.FunctionDef) and node.name == function for node in module.body):
        return [
            f"{field.location}: {flow.name}: prompt_field {field.name}: on_change "
            f"{filename} defines no {function}(username, form)"
        ]
    return []
