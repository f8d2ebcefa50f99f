"""Terraform's built-in functions that Sym projects use, as one table of implementations.

Each entry names its parameters' kinds; ``call`` checks the count, converts arguments the
way Terraform does (a number passed as a string parameter becomes its text) and runs it.
``try`` and ``can`` need their arguments unevaluated, so the evaluator runs them itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from symbox.config.hcl import display_path, module_dir, show
from symbox.config.model import Secret
from symbox.config.operators import equal, to_bool, to_number
from symbox.config.schema import FileContent, is_number, number
from symbox.config.textfuncs import (
    SECRET_IN_STRING,
    format_values,
    json_text,
    plain_text,
    regex,
    regex_replace,
    regexall,
    title,
)

LAZY = frozenset({"try", "can"})
_KINDS = MappingProxyType(
    {
        "string": "a string",
        "text": "a string",
        "number": "a number",
        "integer": "a whole number",
        "bool": "true or false",
        "list": "a list",
        "map": "a map",
        "collection": "a list or map",
    }
)
_COUNTS = ("no", "one", "two", "three")


class FunctionError(ValueError):
    """A call cannot be made; ``bare`` messages already name what failed."""

    def __init__(self, message: str, *, bare: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.bare = bare


@dataclass(frozen=True)
class Context:
    """Where a call is written, for the functions that read files or the environment."""

    file: str
    environ: Mapping[str, str]
    # Renders a template file's text (its shown path, its vars) with the evaluator.
    render: Callable[[str, str, Mapping[str, Any]], Any]
    in_template: bool = False


@dataclass(frozen=True)
class Function:
    """An implementation and the kinds of its parameters (``any`` also takes null)."""

    impl: Callable[..., Any]
    params: tuple[str, ...] = ()
    variadic: str | None = None
    optional: int = 0
    context: bool = False


def call(name: str, args: Sequence[Any], context: Context) -> Any:
    """Call function ``name`` with evaluated ``args``; raises FunctionError."""
    function = FUNCTIONS[name]
    _check_count(name, function, len(args))
    converted = [_convert(name, function, index, arg) for index, arg in enumerate(args)]
    try:
        if function.context:
            return function.impl(context, *converted)
        return function.impl(*converted)
    except FunctionError:
        raise
    except ValueError as error:
        raise FunctionError(str(error)) from None


def supported() -> list[str]:
    """Every function name symbox knows, sorted."""
    return sorted([*FUNCTIONS, *LAZY])


def _check_count(name: str, function: Function, count: int) -> None:
    most = len(function.params)
    least = most - function.optional
    if function.variadic is not None:
        if count < least:
            raise FunctionError(f"{name}() takes at least {_count(least)}", bare=True)
    elif function.optional:
        if not least <= count <= most:
            raise FunctionError(f"{name}() takes {least} or {most} arguments", bare=True)
    elif count != most:
        raise FunctionError(f"{name}() takes exactly {_count(most)}", bare=True)


def _count(number_of: int) -> str:
    word = _COUNTS[number_of] if number_of < len(_COUNTS) else str(number_of)
    return f"{word} argument" + ("" if number_of == 1 else "s")


def _convert(name: str, function: Function, index: int, value: Any) -> Any:
    params = function.params
    kind = params[index] if index < len(params) else function.variadic or "any"
    single = len(params) == 1 and function.variadic is None
    where = "" if single else f" as argument {index + 1}"
    if value is None:
        if kind == "any":
            return None
        raise FunctionError(f"{name}() argument {index + 1} must not be null", bare=True)
    if isinstance(value, Secret) and kind in ("string", "number", "integer", "bool"):
        raise FunctionError(f"{value.source} {SECRET_IN_STRING}")
    converted = _as_kind(kind, value)
    if converted is None:
        raise FunctionError(f"{name}() expects {_KINDS[kind]}{where}", bare=True)
    return converted


def _as_kind(kind: str, value: Any) -> Any:
    if kind in ("any", "value"):
        return value
    if kind == "text":
        return value if isinstance(value, str) else None
    if kind == "string":
        return text_of(value) if isinstance(value, str | bool) or is_number(value) else None
    if kind == "number":
        return to_number(value)
    if kind == "integer":
        amount = to_number(value)
        return amount if isinstance(amount, int) else None
    if kind == "bool":
        return to_bool(value)
    if kind == "list":
        return value if isinstance(value, list) else None
    if kind == "map":
        return value if isinstance(value, dict) else None
    return value if isinstance(value, list | dict) else None


def text_of(value: Any) -> str:
    """A string, number or bool as a string, as Terraform converts it; else FunctionError."""
    try:
        return plain_text(value)
    except ValueError as error:
        raise FunctionError(str(error)) from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Secret):
        return "secret"
    return "list" if isinstance(value, list) else "map"


def _unify(values: Sequence[Any], what: str) -> list[Any]:
    """Give values one type, as Terraform does: mixed strings, numbers and bools become text."""
    kinds = {_kind(value) for value in values if value is not None}
    if len(kinds) <= 1:
        return list(values)
    if kinds <= {"string", "number", "bool"}:
        return [None if value is None else text_of(value) for value in values]
    raise FunctionError(f"{what} must all have the same type")


# -- files and the environment ---------------------------------------------------------


def _env(context: Context, name: str) -> Any:
    value = context.environ.get(name)
    if value is None:
        raise FunctionError(f"environment variable {name} is not set", bare=True)
    if value == "":
        raise FunctionError(f"environment variable {name} is empty", bare=True)
    return Secret(value, f"env({name})")


def _read(context: Context, path: str, name: str) -> tuple[str, str]:
    full = os.path.normpath(os.path.join(module_dir(context.file), path))
    shown = display_path(full, context.file)
    called = f"{name}({show(path)})"
    try:
        with open(full, encoding="utf-8") as handle:
            return handle.read(), shown
    except FileNotFoundError:
        raise FunctionError(f"{called}: no such file {shown}", bare=True) from None
    except IsADirectoryError:
        raise FunctionError(f"{called}: {shown} is a folder", bare=True) from None
    except UnicodeDecodeError:
        raise FunctionError(f"{called}: {shown} is not UTF-8 text", bare=True) from None
    except OSError as error:
        msg = f"{called}: cannot read {shown}: {error.strerror}"
        raise FunctionError(msg, bare=True) from None


def _file(context: Context, path: str) -> FileContent:
    text, shown = _read(context, path, "file")
    content = FileContent(text)
    content.path = shown
    return content


def _fileexists(context: Context, path: str) -> bool:
    full = os.path.normpath(os.path.join(module_dir(context.file), path))
    if os.path.isdir(full):
        shown = display_path(full, context.file)
        raise FunctionError(f"fileexists({show(path)}): {shown} is a folder", bare=True)
    return os.path.isfile(full)


def _templatefile(context: Context, path: str, variables: dict[str, Any]) -> Any:
    if context.in_template:
        raise FunctionError("cannot be called from inside a template")
    text, shown = _read(context, path, "templatefile")
    return context.render(text, shown, variables)


# -- JSON -----------------------------------------------------------------------------


def _jsonencode(value: Any) -> str:
    secret = _find_secret(value)
    if secret is not None:
        raise FunctionError(f"{secret.source} {SECRET_IN_STRING}")
    return json_text(value)


def _find_secret(value: Any) -> Secret | None:
    if isinstance(value, Secret):
        return value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        found = _find_secret(child)
        if found is not None:
            return found
    return None


def _jsondecode(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        return _numbers(json.loads(text, parse_constant=refuse))
    except json.JSONDecodeError as error:
        raise FunctionError(
            f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError as error:
        raise FunctionError(f"invalid JSON: {error}") from None


def _numbers(value: Any) -> Any:
    if isinstance(value, float):
        return number(value)
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    return value


# -- collections ------------------------------------------------------------------------


def _merge(*maps: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for index, mapping in enumerate(maps):
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            raise FunctionError(f"argument {index + 1} is not a map")
        result.update(mapping)
    return result


def _concat(*lists: list[Any]) -> list[Any]:
    return [item for items in lists for item in items]


def _lookup(mapping: dict[str, Any], key: str, *default: Any) -> Any:
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise FunctionError(f"the map has no key {show(key)} and no default was given")


def _one(items: list[Any]) -> Any:
    if len(items) > 1:
        raise FunctionError(f"needs a list of zero or one elements, got {len(items)}")
    return items[0] if items else None


def _tolist(items: list[Any]) -> list[Any]:
    return _unify(items, "list elements")


class SetValue(list[Any]):
    """A list made by toset(): for_each accepts it where it refuses a plain list, as Terraform."""


def to_set(items: list[Any]) -> SetValue:
    """``items`` as Terraform's set: duplicates removed, strings, numbers and bools sorted."""
    try:
        return _toset(items)
    except FunctionError as error:
        raise ValueError(str(error)) from None


def _toset(items: list[Any]) -> SetValue:
    unique = _distinct(_unify(items, "set elements"))
    kinds = {_kind(item) for item in unique}
    # Terraform orders sets of strings, numbers and bools; other sets keep their order here.
    if len(kinds) == 1 and kinds <= {"string", "number", "bool"}:
        return SetValue(sorted(unique))
    return SetValue(unique)


def _tomap(mapping: dict[str, Any]) -> dict[str, Any]:
    return dict(zip(mapping, _unify(list(mapping.values()), "map values"), strict=True))


def _length(value: Any) -> int:
    if isinstance(value, Secret):
        raise FunctionError(f"{value.source} {SECRET_IN_STRING}")
    if isinstance(value, str | list | dict):
        return len(value)
    raise FunctionError(f"needs a string, list or map, got {_kind(value)}")


def _keys(mapping: dict[str, Any]) -> list[str]:
    return sorted(mapping)


def _values(mapping: dict[str, Any]) -> list[Any]:
    return [mapping[key] for key in sorted(mapping)]


def _contains(items: list[Any], value: Any) -> bool:
    return any(equal(item, value) for item in items)


def _flatten(items: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for item in items:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


def _distinct(items: list[Any]) -> list[Any]:
    unique: list[Any] = []
    for item in items:
        if not any(equal(item, seen) for seen in unique):
            unique.append(item)
    return unique


def _element(items: list[Any], index: int) -> Any:
    if not items:
        raise FunctionError("the list is empty")
    if index < 0:
        raise FunctionError("the index must not be negative")
    return items[index % len(items)]


def _zipmap(keys: list[Any], values: list[Any]) -> dict[str, Any]:
    if len(keys) != len(values):
        raise FunctionError(f"got {len(keys)} keys but {len(values)} values")
    # As in Terraform, a repeated key takes the value of its last appearance.
    return {text_of(key): value for key, value in zip(keys, values, strict=True)}


def _coalesce(*values: Any) -> Any:
    for value in _unify(values, "arguments"):
        if value is not None and value != "":
            return value
    raise FunctionError("no non-null, non-empty-string arguments")


# -- strings ---------------------------------------------------------------------------


def _join(separator: str, *lists: list[Any]) -> str:
    pieces: list[str] = []
    for items in lists:
        for item in items:
            if item is None:
                raise FunctionError("cannot join a null element")
            pieces.append(text_of(item))
    return separator.join(pieces)


def _split(separator: str, text: str) -> list[str]:
    # Go's strings.Split: an empty separator splits between characters.
    return text.split(separator) if separator else list(text)


def _formatlist(spec: str, *values: Any) -> list[str]:
    lengths = {len(value) for value in values if isinstance(value, list)}
    if len(lengths) > 1:
        raise FunctionError("all list arguments must have the same length")
    count = lengths.pop() if lengths else 1
    return [
        format_values(spec, [v[index] if isinstance(v, list) else v for v in values])
        for index in range(count)
    ]


def _lower(text: str) -> str:
    # Go lowers each character alone; Python would turn a few into two characters.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _upper(text: str) -> str:
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def _trimspace(text: str) -> str:
    # Go's unicode.IsSpace, which unlike str.isspace leaves the ASCII separators alone.
    spaces = "".join({c for c in text if c.isspace() and c not in "\x1c\x1d\x1e\x1f"})
    return text.strip(spaces) if spaces else text


def _replace(text: str, search: str, replacement: str) -> str:
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        return regex_replace(text, search[1:-1], replacement)
    return text.replace(search, replacement)


def _format(spec: str, *values: Any) -> str:
    return format_values(spec, values)


def _tostring(value: Any) -> Any:
    return None if value is None else text_of(value)


def _tonumber(value: Any) -> Any:
    if value is None:
        return None
    amount = to_number(value)
    if amount is None:
        raise FunctionError(f"cannot convert {show(value)} to a number")
    return amount


def _tobool(value: Any) -> Any:
    if value is None:
        return None
    flag = to_bool(value)
    if flag is None:
        raise FunctionError(f"cannot convert {show(value)} to true or false")
    return flag


FUNCTIONS: Mapping[str, Function] = MappingProxyType(
    {
        "env": Function(_env, ("text",), context=True),
        "file": Function(_file, ("string",), context=True),
        "fileexists": Function(_fileexists, ("string",), context=True),
        "templatefile": Function(_templatefile, ("string", "map"), context=True),
        "jsonencode": Function(_jsonencode, ("any",)),
        "jsondecode": Function(_jsondecode, ("string",)),
        "merge": Function(_merge, variadic="any"),
        "concat": Function(_concat, variadic="list"),
        "lookup": Function(_lookup, ("map", "string", "any"), optional=1),
        "one": Function(_one, ("list",)),
        "tolist": Function(_tolist, ("list",)),
        "toset": Function(_toset, ("list",)),
        "tomap": Function(_tomap, ("map",)),
        "tostring": Function(_tostring, ("any",)),
        "tonumber": Function(_tonumber, ("any",)),
        "tobool": Function(_tobool, ("any",)),
        "length": Function(_length, ("value",)),
        "keys": Function(_keys, ("map",)),
        "values": Function(_values, ("map",)),
        "contains": Function(_contains, ("list", "any")),
        "flatten": Function(_flatten, ("list",)),
        "distinct": Function(_distinct, ("list",)),
        "element": Function(_element, ("list", "integer")),
        "zipmap": Function(_zipmap, ("list", "list")),
        "coalesce": Function(_coalesce, variadic="any"),
        "join": Function(_join, ("string",), variadic="list"),
        "split": Function(_split, ("string", "string")),
        "format": Function(_format, ("string",), variadic="any"),
        "formatlist": Function(_formatlist, ("string",), variadic="any"),
        "title": Function(title, ("string",)),
        "lower": Function(_lower, ("string",)),
        "upper": Function(_upper, ("string",)),
        "trimspace": Function(_trimspace, ("string",)),
        "replace": Function(_replace, ("string", "string", "string")),
        "regex": Function(regex, ("string", "string")),
        "regexall": Function(regexall, ("string", "string")),
    }
)
