"""``symbox hooks run FLOW HOOK --event FILE.json``: call one hook and print what it returned."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio

from symbox.audit.entry import redact
from symbox.config.durations import iso
from symbox.config.hosts import hook_allow_list
from symbox.config.model import Config, Flow
from symbox.flowhooks.forms import implementation_file
from symbox.flowtest.answers import Answers, answers_from_json
from symbox.flowtest.command import load_for_tests
from symbox.flowtest.standins import StatedIntegrations, Trace, TracingPool, reachable, stated_http
from symbox.sandbox.errors import HookCompileError, HookFailure
from symbox.sandbox.hooks import HookRunner
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.integrations.scope import CallScope, environment_scope
from symbox.sandbox.views import flow_view, user_view

RETURNED, RAISED, USAGE = 0, 1, 2
# Who asks when the event names nobody.
DEFAULT_USER = "requester@example.com"
HOOK_TIMEOUT = 2.0


def add_hooks_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_config: Callable[[argparse.ArgumentParser], None],
    add_variables: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register ``symbox hooks run``."""
    hooks = commands.add_parser("hooks", help="call a flow's hooks by hand, for debugging")
    actions = hooks.add_subparsers(dest="hooks_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="call one hook or reducer on an event and print its value")
    run.add_argument("flow", metavar="FLOW", help="the flow's name")
    run.add_argument(
        "hook", metavar="HOOK", help="the function, e.g. on_request or get_permissions"
    )
    run.add_argument(
        "--event",
        type=Path,
        required=True,
        metavar="FILE",
        help="the event as JSON: name, user (an email), payload.fields (target by name)...",
    )
    run.add_argument(
        "--answers",
        type=Path,
        metavar="FILE",
        help="what integrations answer, as JSON shaped like a test case's integrations block",
    )
    add_config(run)
    add_variables(run)


def cmd_hooks(args: argparse.Namespace) -> int:
    """Call the hook; print its value as JSON (0), or its error (1); 2 when it cannot be called."""
    config = load_for_tests(args.config, args.variables, os.environ)
    if isinstance(config, list):
        return _usage(*config, f"the config {args.config} cannot be used")
    flow = config.flow_by_name(args.flow)
    if flow is None:
        known = ", ".join(sorted(item.name for item in config.flows.values()))
        return _usage(f"no flow named {args.flow} (flows: {known})")
    event = _read_json(args.event)
    if not isinstance(event, dict):
        why = event if isinstance(event, str) else "expected a JSON object"
        return _usage(f"--event {args.event}: {why}")
    answers = Answers.none()
    if args.answers is not None:
        raw = _read_json(args.answers)
        answers, problems = (answers, [raw]) if isinstance(raw, str) else answers_from_json(raw)
        if problems:
            return _usage(*(f"--answers {args.answers}: {problem}" for problem in problems))
    return anyio.run(_call, config, flow, args.hook, event, answers)


async def _call(
    config: Config, flow: Flow, hook: str, given: Mapping[str, Any], answers: Answers
) -> int:
    trace = Trace()
    filename = implementation_file(flow)
    async with TracingPool(trace, size=1, default_timeout=HOOK_TIMEOUT) as pool:
        try:
            defined = HookRunner(pool).defined(flow.implementation, filename)
        except HookCompileError as error:
            return _usage(str(error))
        if hook not in defined:
            names = ", ".join(sorted(defined)) or "nothing"
            return _usage(f"{filename} defines no {hook} (it defines {names})")
        event = hook_event_of(config, flow, hook, given)
        scope = environment_scope(flow.environment)
        async with stated_http(answers, trace) as client:
            provider = CallScope(
                StatedIntegrations(answers, reachable(config, flow.environment), trace),
                http=HttpGateway(client, hook_allow_list(config, flow.environment)),
                name=scope,
            )
            try:
                value = await pool.call(
                    flow.implementation,
                    filename,
                    hook,
                    [event],
                    wrap_event=True,
                    integrations=provider,
                    scope=scope,
                )
            except HookFailure as error:
                _calls(trace)
                print(f"{hook} raised: {error}", file=sys.stderr)
                return RAISED
    _calls(trace)
    print(json.dumps(value, indent=2, sort_keys=True, default=str))
    return RETURNED


def hook_event_of(
    config: Config, flow: Flow, hook: str, given: Mapping[str, Any]
) -> dict[str, Any]:
    """The event the hook sees: the file's keys over what symbox would fill in."""
    step = hook.removeprefix("on_").removeprefix("after_")
    if hook.startswith("get_"):
        step = "approve" if hook == "get_permissions" else "request"
    user = given.get("user", DEFAULT_USER)
    acting = user_view(user) if isinstance(user, str) else user
    payload = dict(given.get("payload") or {})
    fields = dict(payload.get("fields") or {})
    if isinstance(fields.get("target"), str):
        fields["target"] = _target_view(config, flow, fields["target"])
    event: dict[str, Any] = {
        "name": step,
        "user": acting,
        "payload": {"timestamp": iso(time.time()), **payload, "fields": fields},
        "flow": flow_view(flow, config),
        "run": {"id": "hooks-run", "actors": {"request": acting}},
        "context": {},
    }
    event.update({key: value for key, value in given.items() if key not in ("user", "payload")})
    return event


def _target_view(config: Config, flow: Flow, name: str) -> Any:
    """A target named in the event, as hooks see targets (unknown names stay as written)."""
    strategy = config.strategies.get(flow.params.strategy or "")
    for key in strategy.targets if strategy else ():
        target = config.targets[key]
        if target.name == name:
            settings = redact(target.settings)
            return {"name": name, "label": target.label, "type": target.type, "settings": settings}
    return name


def _read_json(path: Path) -> Any:
    """The file's JSON, or a string saying why it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        return f"cannot read: {error.strerror or error}"
    except (UnicodeDecodeError, ValueError) as error:
        return f"not JSON: {error}"


def _calls(trace: Trace) -> None:
    for step in trace.steps:
        if step.kind != "hook":
            print(f"[{step.kind}] {step.text}", file=sys.stderr)


def _usage(*problems: str) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    return USAGE
