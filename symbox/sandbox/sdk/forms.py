"""`sym.sdk.forms`: the request form as prefetch reducers and `on_change` functions see it.

`FieldOption`s come back from prefetch reducers; `on_change_<field>(username, form)`
receives a `SymPromptForm` and may change its fields' `value`, `label`, `required`,
`visible` and `current_allowed_values`. Both return to the host as plain data (`plain`).
"""

from __future__ import annotations

from typing import Any

from symbox.sandbox.sdk.event import FrozenMap
from symbox.sandbox.sdk.exceptions import SymException

# Slack's limit on an option's text and value, which Sym's SDK enforces too.
MAX_OPTION_TEXT = 55
# The key marking a reply as a form; hooks.py on the host reads it.
FORM_KEY = "__sym_form__"
# Fields an on_change function may change; `name`, `type` and the original options not.
_MUTABLE = ("value", "label", "required", "visible", "current_allowed_values")


class FieldType:
    """The data types a prompt field can have."""

    STRING = "string"
    INT = "int"
    BOOL = "bool"
    DURATION = "duration"
    SLACK_USER = "slack_user"
    SLACK_USER_LIST = "slack_user_list"
    STR_LIST = "str_list"
    INT_LIST = "int_list"


class FieldOption:
    """A drop-down option: ``value`` passed through when chosen, ``label`` shown (55 chars)."""

    __slots__ = ("label", "value")

    label: str
    value: Any

    def __init__(self, *, value: Any = None, label: Any = None) -> None:
        if value is None:
            raise SymException("FieldOption(value=...) must be non-empty")
        if type(value) not in (str, int, float, bool):
            raise SymException(
                f"FieldOption(value=...) takes a str or a number, got {type(value).__name__}"
            )
        if len(str(value)) > MAX_OPTION_TEXT:
            raise SymException(f"{value} exceeds the max length of {MAX_OPTION_TEXT} characters.")
        if type(label) is not str or not label:
            raise SymException("FieldOption(label=...) takes a non-empty str")
        if len(label) > MAX_OPTION_TEXT:
            raise SymException(f"label {label!r} exceeds {MAX_OPTION_TEXT} characters")
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "label", label)

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError("FieldOption is read-only; make a new one")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldOption):
            return NotImplemented
        return (self.value, self.label) == (other.value, other.label)

    def __hash__(self) -> int:
        return hash((self.value, self.label))

    def __repr__(self) -> str:
        return f"FieldOption(value={self.value!r}, label={self.label!r})"


def _host_option(item: object) -> FieldOption:
    """An option the host sent (from the config or a reducer's checked reply)."""
    if type(item) is not dict:
        raise SymException("a form option must be a dict of value and label")
    option = object.__new__(FieldOption)
    object.__setattr__(option, "value", item.get("value"))
    object.__setattr__(option, "label", item.get("label"))
    return option


def _items(value: object, kind: type, what: str) -> Any:
    # Exact types only: iterating a hook's own object would run its code unguarded.
    if value is None:
        return kind()
    if type(value) is not kind:
        raise SymException(f"{what} must be a {kind.__name__}")
    return value


def option_plain(option: FieldOption) -> dict[str, Any]:
    """One option as plain data."""
    return {"value": option.value, "label": option.label}


def _options(value: object, where: str) -> list[FieldOption]:
    if not isinstance(value, list | tuple) or not all(type(item) is FieldOption for item in value):
        raise SymException(f"{where} takes a list of FieldOption")
    return list(value)


def _check(name: str, value: object) -> object:
    if name in ("required", "visible") and type(value) is not bool:
        raise SymException(f"PromptField.{name} takes True or False")
    if name == "label" and value is not None and type(value) is not str:
        raise SymException("PromptField.label takes a str")
    if name == "current_allowed_values":
        return _options(value, "PromptField.current_allowed_values")
    if name == "value" and type(value) not in (str, int, float, bool, list, type(None)):
        raise SymException(
            f"PromptField.value takes a str, number, bool, list or None, got {type(value).__name__}"
        )
    return value


class PromptField:
    """One field's current state: `name` and `type` are fixed, the rest can change."""

    __slots__ = (
        "current_allowed_values",
        "label",
        "name",
        "original_allowed_values",
        "required",
        "type",
        "value",
        "visible",
    )

    current_allowed_values: list[FieldOption]
    label: str | None
    name: str
    original_allowed_values: tuple[FieldOption, ...]
    required: bool
    type: str
    value: Any
    visible: bool

    def __init__(self, data: dict[str, Any]) -> None:
        data = _items(data, dict, "a PromptField's data")
        options = [
            _host_option(item)
            for item in _items(data.get("original_allowed_values"), list, "allowed values")
        ]
        current = [
            _host_option(item)
            for item in _items(data.get("current_allowed_values"), list, "allowed values")
        ]
        for name, value in (
            ("name", data["name"]),
            ("type", data["type"]),
            ("value", data.get("value")),
            ("label", data.get("label")),
            ("required", bool(data.get("required", True))),
            ("visible", bool(data.get("visible", True))),
            ("current_allowed_values", current),
            ("original_allowed_values", tuple(options)),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError("set PromptField attributes from hooks only")

    # RestrictedPython's write guard sends `field.x = y` in hook code here.
    def __guarded_setattr__(self, name: str, value: object) -> None:
        if type(name) is not str or name not in _MUTABLE:
            raise SymException(f"PromptField.{name} cannot be changed")
        object.__setattr__(self, name, _check(name, value))

    def __guarded_delattr__(self, name: str) -> None:
        raise SymException(f"PromptField.{name} cannot be deleted")

    def __repr__(self) -> str:
        return f"PromptField(name={self.name!r}, value={self.value!r})"


def field_plain(field: PromptField) -> dict[str, Any]:
    """One field as plain data (the value checked again: a list may have been filled)."""
    value = field.value
    # Lists a hook filled in place are checked here, as the reply is built (TypeError).
    if type(value) is list and not all(type(item) in (str, int, float, bool) for item in value):
        raise TypeError(f"PromptField.value of {field.name} must hold plain values")
    options = field.current_allowed_values
    if not all(type(item) is FieldOption for item in options):
        raise TypeError(f"current_allowed_values of {field.name} must hold FieldOptions")
    return {
        "name": field.name,
        "value": list(value) if type(value) is list else value,
        "label": field.label,
        "required": field.required,
        "visible": field.visible,
        "current_allowed_values": [option_plain(item) for item in options],
    }


class SymPromptForm:
    """The form's state: ``fields`` by name, in display order, and the flow's ``flow_vars``."""

    __slots__ = ("fields", "flow_vars")

    fields: FrozenMap
    flow_vars: FrozenMap

    def __init__(self, data: dict[str, Any]) -> None:
        data = _items(data, dict, "a SymPromptForm's data")
        fields = {}
        for item in _items(data.get("fields"), list, "a SymPromptForm's fields"):
            field = PromptField(item)
            fields[field.name] = field
        flow_vars = dict(_items(data.get("flow_vars"), dict, "a SymPromptForm's flow_vars"))
        # The mapping is read-only (Sym: change the fields, not the dict); fields mutate.
        object.__setattr__(self, "fields", FrozenMap(fields, {"*": lambda field: field}))
        object.__setattr__(self, "flow_vars", FrozenMap(flow_vars))

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError("SymPromptForm is read-only; change its fields")

    def __repr__(self) -> str:
        return f"SymPromptForm(fields={list(self.fields.keys())!r})"


def form_plain(form: SymPromptForm) -> dict[str, Any]:
    """The form as the reply the host reads."""
    fields = [field_plain(form.fields[name]) for name in form.fields]
    return {FORM_KEY: {"fields": fields}}


# Exact types the worker turns into plain data when a hook returns them.
PLAIN_CONVERTERS: dict[type, Any] = {
    FieldOption: option_plain,
    SymPromptForm: form_plain,
}
