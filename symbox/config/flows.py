"""Build ``sym_flow`` models: the flow, its ``params`` block and the prompt fields in it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from symbox.config import model, schema
from symbox.config.break_glass import read_break_glass
from symbox.config.durations import format_duration, parse_duration
from symbox.config.hcl import Attribute, Block, show
from symbox.config.model import Location
from symbox.config.notifiers import NOTIFIER_TYPES
from symbox.config.people import APPROVERS_VAR, InvalidApprover, approver_entry
from symbox.config.prompt_fields import read_prompt_field
from symbox.config.quorum import read_quorum
from symbox.config.resources import Checked
from symbox.config.schema import IMPLEMENTED, Args, Reader, known

# Added when a strategy schedules de-escalation and the flow declares no duration field.
DEFAULT_DURATIONS = (30, 600, 3600)


def build_flow(
    reader: Reader,
    checked: Checked,
    block: Block,
    nested: Callable[[Attribute], Any],
    key: str,
    args: Args,
    at: Location,
) -> model.Flow | None:
    """A ``sym_flow`` from its block; ``nested`` evaluates attributes inside its params."""
    where = schema.address("sym_flow", key)
    v = args.values
    flow_vars = _target_ids(v.get("vars", {}), checked)
    params_block = next((b for b in block.blocks if b.type == "params"), None)
    params = _params(reader, checked, where, params_block, nested, flow_vars)
    if not args.ok or params is None:
        return None
    _approvers(reader, where, flow_vars, args.lines.get("vars", at))
    return model.Flow(
        key,
        v["name"],
        v.get("label"),
        v["implementation"],
        args.paths.get("implementation"),
        v["environment_id"],
        flow_vars,
        params,
        at,
    )


def _target_ids(
    flow_vars: Mapping[str, str], checked: Mapping[tuple[str, str], Args]
) -> dict[str, str]:
    """``vars`` with each ``sym_target.X.id`` as hooks see that target: by its name.

    In Sym a var holding a target's id equals the target field's value, and hooks compare
    the two; symbox's target field holds the target's name, so the var does too. A value
    that is JSON (``jsonencode([sym_target.a.id, ...])``) is changed inside.
    """
    names = {
        f"sym_target.{key}": args.values["name"]
        for (kind, key), args in checked.items()
        if kind == "sym_target" and isinstance(args.values.get("name"), str)
    }

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, list):
            return [rename(item) for item in value]
        if isinstance(value, dict):
            return {key: rename(item) for key, item in value.items()}
        return value

    result: dict[str, str] = {}
    for name, value in flow_vars.items():
        if value in names:
            result[name] = names[value]
            continue
        try:
            parsed = json.loads(value)
        except ValueError:
            result[name] = value
            continue
        renamed = rename(parsed)
        result[name] = value if renamed == parsed else json.dumps(renamed, separators=(",", ":"))
    return result


# A grant still failing a day after its approval needs a person, not another attempt.
_MAX_ESCALATE_TIMEOUT = 86_400


def _approvers(reader: Reader, where: str, flow_vars: Mapping[str, str], line: Location) -> None:
    """Refuse approver entries that no sign-in could ever match, saying why."""
    for item in flow_vars.get(APPROVERS_VAR, "").split(","):
        if not item.strip():
            continue
        try:
            approver_entry(item)
        except InvalidApprover as error:
            reader.problem(line, f'{where}: vars["{APPROVERS_VAR}"]: {error}')


def _params(
    reader: Reader,
    checked: Checked,
    flow: str,
    block: Block | None,
    nested: Callable[[Attribute], Any],
    flow_vars: Mapping[str, str],
) -> model.FlowParams | None:
    where = f"{flow}: params"
    args = Args() if block is None else reader.read(block, schema.PARAMS, where, nested)
    v = args.values
    revoke, deescalate = v.get("allow_revoke", True), v.get("schedule_deescalation", True)
    if block is not None and not revoke and not deescalate:
        reader.problem(
            block.location,
            f"{where}: allow_revoke and schedule_deescalation cannot both be false",
        )
        args.ok = False
    sources = v.get("allowed_sources", schema.ALLOWED_SOURCES)
    for source in sources:
        if source not in schema.ALLOWED_SOURCES:
            reader.problem(
                args.lines["allowed_sources"],
                f"{where}: allowed_sources: unknown source {show(source)} (known: api, slack)",
            )
            args.ok = False
    fields: list[model.PromptField] = []
    names: set[str | None] = set()
    glass_blocks = [b for b in block.blocks if b.type == "break_glass"] if block else []
    for extra in glass_blocks[1:]:
        reader.problem(extra.location, f"{where}: break_glass is set twice")
        args.ok = False
    for prompt in block.blocks if block is not None else ():
        if prompt.type == "break_glass":
            continue
        if prompt.type != "prompt_field":
            reader.problem(prompt.location, f"{where}: unexpected block {prompt.type}")
            args.ok = False
            continue
        prompt_field = read_prompt_field(reader, flow, prompt, nested)
        name = prompt_field.name if prompt_field else next(iter(prompt.labels), None)
        twice = name in names
        if twice:
            reader.problem(prompt.location, f"{flow}: prompt field {show(name)} is set twice")
        names.add(name)
        if prompt_field is None or twice:
            args.ok = False
        else:
            fields.append(prompt_field)
    strategy = v.get("strategy_id")
    _strategy_implemented(reader, checked, flow, strategy, args)
    notify = tuple(v.get("notify_ids", ()))
    _notifiers(reader, checked, where, notify, args)
    duration = next((f for f in fields if f.name == "duration"), None)
    if block is not None and strategy is not None and deescalate:
        if duration is None:
            fields.append(
                model.PromptField(
                    *("duration", "duration", "Duration", True, True, None),
                    *(DEFAULT_DURATIONS, False, None, block.location),
                )
            )
        elif duration.type != "duration":
            reader.problem(
                duration.location,
                f'{flow}: prompt field "duration" must have type duration: '
                "the strategy schedules de-escalation",
            )
            args.ok = False
    extend_up_to = v.get("extend_without_approval_up_to")
    if extend_up_to is not None:
        _check_extend_limit(reader, where, args, extend_up_to, strategy is not None and deescalate)
        duration = next((f for f in fields if f.name == "duration"), None)
        longest = model.longest_duration(duration)
        if longest is not None and extend_up_to > longest:
            reader.problem(
                args.lines["extend_without_approval_up_to"],
                f"{where}: extend_without_approval_up_to: {format_duration(extend_up_to)} is"
                f" longer than the flow's maximum duration {format_duration(longest)} (the"
                ' largest allowed value of its "duration" field)',
            )
            args.ok = False
    escalate_timeout = v.get("escalate_timeout")
    if escalate_timeout is not None and escalate_timeout > _MAX_ESCALATE_TIMEOUT:
        reader.problem(
            args.lines["escalate_timeout"],
            f"{where}: escalate_timeout: {format_duration(escalate_timeout)} is longer than "
            f"{format_duration(_MAX_ESCALATE_TIMEOUT)}: an approved request would wait that "
            "long for its grant",
        )
        args.ok = False
    most = v.get("max_active_grants_per_user")
    if most is not None and (type(most) is not int or not 1 <= most <= 1000):
        reader.problem(
            args.lines["max_active_grants_per_user"],
            f"{where}: max_active_grants_per_user: expected a whole number from 1 to 1000, "
            f"got {show(most)}",
        )
        args.ok = False
    required, groups = read_quorum(reader, where, args, flow_vars)
    break_glass = None
    if glass_blocks:
        schedules_expiry = strategy is not None and deescalate
        break_glass = read_break_glass(
            reader, where, glass_blocks[0], nested, tuple(fields), schedules_expiry
        )
        args.ok = args.ok and break_glass is not None
    if not args.ok:
        return None
    return model.FlowParams(
        strategy=strategy,
        allow_revoke=revoke,
        schedule_deescalation=deescalate,
        allowed_sources=tuple(sources),
        include_decision_message=v.get("include_decision_message", False),
        additional_header_text=v.get("additional_header_text"),
        allow_guest_interaction=v.get("allow_guest_interaction", False),
        prompt_fields=tuple(fields),
        request_ttl=v.get("request_ttl", parse_duration(schema.DEFAULT_REQUEST_TTL)),
        extend_without_approval_up_to=extend_up_to,
        escalate_timeout=v.get("escalate_timeout", parse_duration(schema.DEFAULT_ESCALATE_TIMEOUT)),
        notify=notify,
        allow_duplicate_requests=v.get("allow_duplicate_requests", False),
        max_active_grants_per_user=most,
        approvals_required=required,
        approvals=groups,
        break_glass=break_glass,
    )


def _check_extend_limit(
    reader: Reader, where: str, args: Args, limit: int, schedules_expiry: bool
) -> None:
    """Extending only means something for grants that expire by themselves."""
    if not schedules_expiry:
        reader.problem(
            args.lines["extend_without_approval_up_to"],
            f"{where}: extend_without_approval_up_to: only a flow whose strategy schedules"
            " de-escalation has grants to extend",
        )
        args.ok = False


def _notifiers(
    reader: Reader, checked: Checked, where: str, keys: tuple[str, ...], args: Args
) -> None:
    """Each of ``notify_ids`` names a webhook or smtp integration."""
    for key in keys:
        kind = checked.get(("sym_integration", key), Args()).values.get("type")
        if kind is not None and kind not in NOTIFIER_TYPES:
            reader.problem(
                args.lines["notify_ids"],
                f"{where}: notify_ids: sym_integration.{key} has type {show(kind)}, "
                'expected "webhook" or "smtp"',
            )
            args.ok = False


def _strategy_implemented(
    reader: Reader, checked: Checked, flow: str, strategy: str | None, args: Args
) -> None:
    kind = checked[("sym_strategy", strategy)].values.get("type") if strategy else None
    if kind is None or kind in IMPLEMENTED.strategy_types:
        return
    available = known(IMPLEMENTED.strategy_types)
    reader.problem(
        args.lines["strategy_id"],
        f"{flow}: strategy type {kind} is not implemented yet in symbox (available: {available})",
    )
    args.ok = False
