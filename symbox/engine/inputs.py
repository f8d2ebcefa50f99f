"""Check a request's ``flow_inputs`` against the flow's prompt fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symbox.config.durations import format_duration, parse_duration
from symbox.config.model import Config, Flow, PromptField
from symbox.engine.forms import FieldState, FormState

# Sym's API names the target ``target_id`` (or ``target_srn``); symbox accepts a target name.
_TARGET_KEYS = ("target", "target_id", "target_srn")
_MAX_STRING = 4096
_MAX_LIST = 100
# No grant is longer than a year: beyond that "temporary" access means nothing, and
# timestamps that far out stop being representable in audit records.
MAX_DURATION = 366 * 86_400
# Integers are kept within what every JSON consumer (and SQLite) represents exactly.
_MAX_INT = 2**53


class InputError(ValueError):
    """The inputs do not fit the flow; ``problems`` names each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def validate_inputs(
    config: Config, flow: Flow, inputs: Mapping[str, Any], form: FormState | None = None
) -> dict[str, Any]:
    """Return the inputs parsed to their field types, with defaults; raise InputError.

    With ``form`` (the form as hooks shaped it), a hidden field takes only its default,
    ``required`` is the form's, and a field with options takes only those offered now.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    remaining = dict(inputs)
    target_name = _pop_target(remaining)
    target = _resolve_target(config, flow, target_name, problems)
    if target is not None:
        values["target"] = target
    for prompt_field in flow.params.prompt_fields:
        if prompt_field.name in _TARGET_KEYS:
            continue
        state = form.field(prompt_field.name) if form is not None else None
        raw = remaining.pop(prompt_field.name, None)
        present = not _blank(raw)
        if state is not None and not state.visible:
            present = False  # a hidden field's value is not the requester's to set
        required = state.required if state is not None else prompt_field.required
        if not present:
            if prompt_field.default is not None:
                values[prompt_field.name] = prompt_field.default
            elif required and (state is None or state.visible):
                problems.append(f"{prompt_field.name}: required")
            continue
        try:
            values[prompt_field.name] = _parse_field(prompt_field, raw, state)
        except ValueError as error:
            problems.append(f"{prompt_field.name}: {error}")
    for unknown in sorted(remaining):
        problems.append(f"{unknown}: not a field of flow {flow.name}")
    if problems:
        raise InputError(problems)
    return values


def form_values(flow: Flow, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Each prompt field's value as hooks see it (``form_value``); validation reports
    values that do not parse afterwards."""
    return {
        prompt_field.name: form_value(prompt_field.type, inputs.get(prompt_field.name))
        for prompt_field in flow.params.prompt_fields
    }


def form_value(field_type: str, raw: Any) -> Any:
    """One value as hooks see it. Blank is None (``""``, ``"  "``, ``[]``), except that an
    empty check box is False, as Slack sends it; a value that does not parse is None."""
    if isinstance(raw, tuple):
        raw = list(raw)  # defaults of list fields are tuples
    if _blank(raw):
        return False if field_type == "bool" else None
    try:
        return _parse_type(field_type, raw)
    except ValueError:
        return None


def _blank(raw: Any) -> bool:
    # Required means a value a person wrote: "", "   " and lists of only those are absent,
    # so a required field cannot be satisfied by whitespace and an optional one gets its
    # default. False and 0 are values.
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple):
        return all(_blank(item) for item in raw)
    return False


def _pop_target(inputs: dict[str, Any]) -> Any:
    found = [inputs.pop(key) for key in _TARGET_KEYS if key in inputs]
    return found[0] if found else None


def _resolve_target(config: Config, flow: Flow, name: Any, problems: list[str]) -> str | None:
    strategy_key = flow.params.strategy
    if strategy_key is None:
        if name is not None:
            problems.append("target: flow has no strategy, so it takes no target")
        return None
    names = [config.targets[key].name for key in config.strategies[strategy_key].targets]
    if name is None:
        if len(names) == 1:
            return names[0]
        problems.append(f"target: required (one of {', '.join(names)})")
        return None
    if not isinstance(name, str) or name not in names:
        problems.append(f"target: {name!r} is not one of {', '.join(names)}")
        return None
    return name


def _parse_field(prompt_field: PromptField, raw: Any, state: FieldState | None) -> Any:
    value = _parse_type(prompt_field.type, raw)
    allowed = prompt_field.allowed_values
    if state is not None and state.current is not None:
        allowed = tuple(option.value for option in state.current)
    if allowed is not None and prompt_field.type not in ("str_list", "int_list"):
        if value not in allowed:
            raise ValueError(f"{raw!r} is not allowed (allowed: {_show(prompt_field, allowed)})")
    elif allowed is not None and any(item not in allowed for item in value):
        raise ValueError(f"{raw!r} has values not allowed (allowed: {list(allowed)})")
    return value


def _show(prompt_field: PromptField, allowed: tuple[Any, ...]) -> str:
    if prompt_field.type == "duration":
        return ", ".join(format_duration(int(item)) for item in allowed)
    return ", ".join(str(item) for item in allowed)


def _parse_type(field_type: str, raw: Any) -> Any:
    if field_type in ("string", "slack_user"):
        return _string(raw)
    if field_type == "int":
        return _int(raw)
    if field_type == "bool":
        if not isinstance(raw, bool):
            raise ValueError("expected true or false")
        return raw
    if field_type == "duration":
        return duration_seconds(raw)
    if field_type in ("str_list", "slack_user_list", "int_list"):
        if not isinstance(raw, list) or len(raw) > _MAX_LIST:
            raise ValueError(f"expected a list of at most {_MAX_LIST} items")
        parse = _int if field_type == "int_list" else _string
        if any(_blank(item) for item in raw):
            raise ValueError("has a blank item")
        return [parse(item) for item in raw]
    raise ValueError(f"unsupported field type {field_type}")


def _string(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("expected a string")
    if len(raw) > _MAX_STRING:
        raise ValueError(f"longer than {_MAX_STRING} characters")
    # Stored trimmed: " prod " is the value "prod", and matches it among allowed values.
    return raw.strip()


def _int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError("expected an integer")
    if abs(raw) > _MAX_INT:
        raise ValueError(f"must be between -{_MAX_INT} and {_MAX_INT}")
    return raw


def duration_seconds(raw: Any) -> int:
    """A duration as an API or form gives it (`30m` or seconds), in seconds; else ValueError."""
    if isinstance(raw, bool):
        raise ValueError("expected a duration such as 30s, 10m, 1h, 2d or a number of seconds")
    if isinstance(raw, int):
        seconds = raw
    elif isinstance(raw, str):
        seconds = parse_duration(raw)
    else:
        raise ValueError("expected a duration such as 30s, 10m, 1h, 2d or a number of seconds")
    if seconds <= 0:
        raise ValueError("must be positive")
    if seconds > MAX_DURATION:
        raise ValueError(f"at most {format_duration(MAX_DURATION)} ({MAX_DURATION} seconds)")
    return seconds
