"""``symbox request FLOW``: fill the flow's form from options or prompts, then send it."""

from __future__ import annotations

import argparse
from typing import Any

from symbox.client import render
from symbox.client.commands import RUNS, show_run
from symbox.client.follow import granted, wait_for
from symbox.client.http import Api, ClientError
from symbox.client.terminal import Terminal


class UsageProblem(ClientError):
    """The command line lacks something it needs (exit status 2)."""


def field_option(text: str) -> tuple[str, str]:
    """Parse ``--field NAME=VALUE``."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    return name.strip(), value


def _flow(api: Api, name: str) -> dict[str, Any]:
    flows: list[dict[str, Any]] = api.get("/api/v1/flows")["flows"]
    for flow in flows:
        if flow["name"] == name:
            return flow
    known = ", ".join(flow["name"] for flow in flows) or "none"
    raise ClientError(f"no flow {name!r} that this token may request (flows: {known})")


def _questions(flow: dict[str, Any], inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The required fields (and target) the command line left out, as prompt fields."""
    missing = [
        field
        for field in flow["fields"]
        if field["required"]
        and field.get("visible", True)
        and field.get("default") is None
        and field["name"] not in inputs
    ]
    targets = [target["name"] for target in flow.get("targets") or []]
    if "target" not in inputs and len(targets) == 1:
        # One target leaves nothing to choose.
        inputs["target"] = targets[0]
    elif "target" not in inputs and targets:
        labels = {t["name"]: t.get("label") or t["name"] for t in flow["targets"]}
        missing.append(
            {"name": "target", "label": "Target", "type": "string", "allowed_values": targets}
            | {"target_labels": labels}
        )
    return missing


def _answer(term: Terminal, field: dict[str, Any]) -> Any:
    """Ask for one field until the answer fits it."""
    label = field.get("label") or field["name"]
    allowed = field.get("allowed_values")
    if allowed:
        labels = field.get("target_labels") or {}
        term.err.write(f"{label}:\n")
        for number, value in enumerate(allowed, 1):
            shown = labels.get(value, value)
            named = f" ({value})" if shown != value else ""
            term.err.write(f"  {number}) {shown}{named}\n")
    while True:
        if allowed:
            prompt = f"{label} [1-{len(allowed)}]: "
        elif field.get("type") == "bool":
            prompt = f"{label} [y/n]: "
        else:
            prompt = f"{label}: "
        try:
            text = term.ask(prompt).strip()
        except EOFError:
            raise UsageProblem(f"no answer for {field['name']}") from None
        value = _parse(field, text)
        if value is not None:
            return value
        term.err.write("  please answer" + (f" one of 1-{len(allowed)}" if allowed else "") + "\n")


def _parse(field: dict[str, Any], text: str) -> Any:
    """An answer typed at a prompt as the field's value, or None to ask again."""
    allowed = field.get("allowed_values")
    if not text:
        return None
    if allowed:
        if text.isdigit() and 1 <= int(text) <= len(allowed):
            return allowed[int(text) - 1]
        return next((value for value in allowed if str(value) == text), None)
    value = typed(field.get("type"), text)
    return None if isinstance(value, str) and field.get("type") in ("int", "bool") else value


BOOLEANS = {"true": True, "yes": True, "y": True, "false": False, "no": False, "n": False}


def typed(kind: str | None, text: str) -> Any:
    """``text`` as the JSON a field of type ``kind`` takes; left as text when it does not fit.

    The server checks every value and names each problem, so text that is no integer or
    boolean is sent as it is and refused there with the rest.
    """
    text = text.strip()
    if kind == "int":
        return int(text) if text.lstrip("-").isdigit() else text
    if kind == "bool":
        return BOOLEANS.get(text.lower(), text)
    if kind in ("str_list", "slack_user_list", "int_list"):
        item = "int" if kind == "int_list" else None
        return [typed(item, part) for part in text.split(",") if part.strip()]
    return text


def _inputs(args: argparse.Namespace, flow: dict[str, Any]) -> dict[str, Any]:
    kinds = {field["name"]: field.get("type") for field in flow["fields"]}
    inputs: dict[str, Any] = {
        name: typed(kinds.get(name), value) for name, value in args.field or []
    }
    for name in ("reason", "duration", "target"):
        value = getattr(args, name)
        if value is not None:
            inputs[name] = value
    return inputs


def cmd_request(args: argparse.Namespace, api: Api, term: Terminal) -> int:
    """Ask for access; prompt for what is missing on a terminal; ``--wait`` follows the run."""
    if args.break_glass and not (args.reason or "").strip():
        raise UsageProblem("--break-glass needs --reason: say why you skip the approval")
    flow = _flow(api, args.flow)
    inputs = _inputs(args, flow)
    missing = _questions(flow, inputs)
    if missing and not term.interactive:
        names = ", ".join(field["name"] for field in missing)
        raise UsageProblem(
            f"flow {args.flow} needs: {names} (give them with --field NAME=VALUE, "
            "or run on a terminal to be asked)"
        )
    for field in missing:
        inputs[field["name"]] = _answer(term, field)
    body: dict[str, Any] = {"flow": args.flow, "flow_inputs": inputs}
    if args.for_user:
        body["user_email"] = args.for_user
    if args.break_glass:
        body |= {"break_glass": True, "reason": args.reason}
    created = api.post("/api/v1/events/request", body)
    run_id = str(created["run_id"])
    if not args.wait:
        if args.quiet:
            term.say(run_id)
        elif args.output == "json":
            term.say(render.as_json(created))
        else:
            # The run as it is now (a hook may have approved it already), said in words.
            show_run(args, term, api.get(f"{RUNS}/{run_id}"))
        return 0
    run = wait_for(api, term, run_id, args.interval)
    if args.quiet:
        term.say(run_id)
    else:
        show_run(args, term, run)
    return 0 if granted(run) else 1
