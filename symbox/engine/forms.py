"""A flow's request form as hooks shape it: prefetched options and `on_change` results.

Pure: the form's state is built from the flow's prompt fields, prefetched options and
submitted values; hook replies are read back and checked here. The hooks themselves are
run by symbox.flowhooks.calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from symbox.config.durations import format_duration
from symbox.config.model import Flow, PromptField

# Slack's and Sym's limit on an option's label and value.
MAX_OPTION_TEXT = 55
# A prefetch reducer feeds one drop-down; more options than this are refused.
MAX_OPTIONS = 1000
_OPTION_TYPES = (str, int, float, bool)
# The type an option's value must have to be chosen in a field of each type.
_VALUE_TYPES: dict[str, type] = {"string": str, "str_list": str, "int": int, "int_list": int}


class FormError(ValueError):
    """A prefetch or on_change reply does not fit the form."""


@dataclass(frozen=True, slots=True)
class Option:
    """One drop-down option: the value submitted and the label shown."""

    value: Any
    label: str


@dataclass(frozen=True, slots=True)
class FieldState:
    """One field as the form shows it now."""

    name: str
    type: str
    value: Any
    label: str | None
    required: bool
    visible: bool
    # The options offered now, and all options (config's or prefetched); None: free input.
    current: tuple[Option, ...] | None
    original: tuple[Option, ...] | None


@dataclass(frozen=True, slots=True)
class FormState:
    """The whole form: its fields in display order."""

    fields: tuple[FieldState, ...]
    # Fields whose sent values were dropped: they hid their own field while steering it.
    dropped: frozenset[str] = frozenset()

    def field(self, name: str) -> FieldState | None:
        """The state of the field called ``name``, if the form has it."""
        return next((item for item in self.fields if item.name == name), None)

    def with_field(self, state: FieldState) -> FormState:
        """This form with one field replaced."""
        fields = tuple(state if item.name == state.name else item for item in self.fields)
        return replace(self, fields=fields)


def has_on_change(flow: Flow) -> bool:
    """Tell whether some field of ``flow``'s form has an on_change function."""
    return any(field.on_change for field in flow.params.prompt_fields)


def shapes_form(flow: Flow) -> bool:
    """Tell whether hooks shape ``flow``'s form (a prefetched field or an on_change)."""
    return any(field.prefetch or field.on_change for field in flow.params.prompt_fields)


def on_change_function(field: PromptField) -> str:
    """The function Sym calls when ``field`` changes: ``on_change_<name>``, dashes as _."""
    return "on_change_" + field.name.replace("-", "_")


def config_options(field: PromptField) -> tuple[Option, ...] | None:
    """The options ``allowed_values`` gives ``field``; None when it has none."""
    if field.allowed_values is None:
        return None
    return tuple(Option(value, _label(field, value)) for value in field.allowed_values)


def _label(field: PromptField, value: Any) -> str:
    if field.type == "duration" and isinstance(value, int):
        return format_duration(value)
    return str(value)


def initial_form(
    flow: Flow, values: Mapping[str, Any], prefetched: Mapping[str, tuple[Option, ...]]
) -> FormState:
    """The form before any on_change: config's fields with ``values`` (else defaults)."""
    fields = []
    for field in flow.params.prompt_fields:
        options = prefetched.get(field.name) if field.prefetch else config_options(field)
        value = values.get(field.name, field.default)
        fields.append(
            FieldState(
                name=field.name,
                type=field.type,
                value=value,
                label=field.label,
                required=field.required,
                visible=field.visible,
                current=options,
                original=options,
            )
        )
    return FormState(tuple(fields))


def read_options(reply: object, where: str, field_type: str) -> tuple[Option, ...]:
    """A prefetch reducer's reply (a list of FieldOption, as plain data), checked.

    Values must have the field's type (a str for a string field, an int for an int
    field): an option that could never be chosen is the reducer's mistake, named here.
    """
    if not isinstance(reply, list):
        raise FormError(f"{where} returned {type(reply).__name__}; expected a list of FieldOption")
    if len(reply) > MAX_OPTIONS:
        raise FormError(f"{where} returned {len(reply)} options; at most {MAX_OPTIONS}")
    options = tuple(_option(item, where) for item in reply)
    wanted = _VALUE_TYPES.get(field_type)
    for option in options:
        if wanted is not None and type(option.value) is not wanted:
            raise FormError(
                f"{where}: option value {option.value!r} is not a {wanted.__name__}, as the"
                f" {field_type} field needs"
            )
    values = [option.value for option in options]
    if len(set(map(str, values))) != len(values):
        raise FormError(f"{where} returned the same value twice")
    return options


def _option(item: object, where: str) -> Option:
    if not isinstance(item, dict) or set(item) != {"value", "label"}:
        raise FormError(f"{where} returned {item!r}; expected FieldOption items")
    value, label = item["value"], item["label"]
    if type(value) not in _OPTION_TYPES or len(str(value)) > MAX_OPTION_TEXT:
        raise FormError(f"{where}: option value {value!r} is not a short str or number")
    if type(label) is not str or not label or len(label) > MAX_OPTION_TEXT:
        raise FormError(f"{where}: option label {label!r} is not a short str")
    return Option(value, label)


def with_values(
    flow: Flow, state: FormState, values: Mapping[str, Any], filled: Mapping[str, Any]
) -> FormState:
    """``state`` holding the values that would be stored for it.

    A visible field holds its typed value, else a value an on_change filled in, else its
    default; a hidden field holds its default, whatever was sent for it.
    """
    fields = []
    for item in state.fields:
        prompt_field = flow.field(item.name)
        default = prompt_field.default if prompt_field is not None else None
        value = values.get(item.name) if item.visible else None
        if value is None and item.visible:
            value = filled.get(item.name)
        fields.append(replace(item, value=default if value is None else value))
    return replace(state, fields=tuple(fields))


def form_payload(state: FormState, flow_vars: Mapping[str, str]) -> dict[str, Any]:
    """The form as plain data for an on_change function's ``SymPromptForm``."""
    return {
        "fields": [
            {
                "name": item.name,
                "type": item.type,
                "value": item.value,
                "label": item.label,
                "required": item.required,
                "visible": item.visible,
                "current_allowed_values": _plain_options(item.current),
                "original_allowed_values": _plain_options(item.original),
            }
            for item in state.fields
        ],
        "flow_vars": dict(flow_vars),
    }


def _plain_options(options: Sequence[Option] | None) -> list[dict[str, Any]]:
    return [{"value": option.value, "label": option.label} for option in options or ()]


def read_form(state: FormState, form: Mapping[str, Any], where: str) -> FormState:
    """The form an on_change function returned (as plain data), checked against ``state``.

    The field list is fixed (Sym: change the fields, not the dict); options offered must
    come from the field's original options, so a hook cannot widen what config allows.
    """
    items = form.get("fields")
    if not isinstance(items, list):
        raise FormError(f"{where} returned a form without its fields")
    if [item.get("name") if isinstance(item, dict) else None for item in items] != [
        field.name for field in state.fields
    ]:
        raise FormError(f"{where} changed the form's fields; change their attributes instead")
    return replace(
        state,
        fields=tuple(
            _read_field(field, item, where) for field, item in zip(state.fields, items, strict=True)
        ),
    )


def _read_field(field: FieldState, item: dict[str, Any], where: str) -> FieldState:
    current = field.current
    offered = item.get("current_allowed_values")
    if field.original is not None and isinstance(offered, list):
        options = tuple(_option(option, where) for option in offered)
        # By type too: 1 == True == 1.0, but only the original's own values may be offered.
        allowed = {(type(option.value), option.value) for option in field.original}
        widened = [
            option.value for option in options if (type(option.value), option.value) not in allowed
        ]
        if widened:
            raise FormError(
                f"{where}: {field.name} cannot offer {widened[0]!r}, which is not one of "
                "its options"
            )
        current = options
    label = item.get("label")
    return replace(
        field,
        value=item.get("value"),
        label=label if isinstance(label, str) else field.label,
        required=item.get("required") is not False,
        visible=item.get("visible") is not False,
        current=current,
    )
