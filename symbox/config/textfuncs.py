"""The text-heavy parts of Terraform's functions: format verbs, JSON, RE2 patterns, title.

Errors are ValueErrors with a message for the user; the function table adds the name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from symbox.config.model import Secret
from symbox.config.operators import to_bool, to_number
from symbox.config.schema import is_number, to_text

SECRET_IN_STRING = "is a secret: use it as a whole value, not inside a string"
_FLAGS = " +-0#"
_INTEGER_VERBS = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}
_ALTERNATE = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}
# The POSIX classes RE2 allows inside brackets, spelled for Python's re.
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_RE2_LACKS = (
    ("?=", "lookahead (?=...)"),
    ("?!", "lookahead (?!...)"),
    ("?<=", "lookbehind (?<=...)"),
    ("?<!", "lookbehind (?<!...)"),
    ("?>", "atomic groups (?>...)"),
    ("?P=", "backreferences (?P=name)"),
    ("?P>", "recursion (?P>name)"),
    ("?(", "conditionals (?(...)...)"),
    ("?#", "comments (?#...)"),
)


def plain_text(value: Any) -> str:
    """A string, number or bool as text; a secret or anything else is a ValueError."""
    if isinstance(value, Secret):
        raise ValueError(f"{value.source} {SECRET_IN_STRING}")
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or is_number(value):
        return to_text(value)
    kind = "null" if value is None else "a list" if isinstance(value, list) else "a map"
    raise ValueError(f"cannot use {kind} as a string")


# -- JSON ------------------------------------------------------------------------------


def json_text(value: Any) -> str:
    """``jsonencode``: compact, keys sorted, ``<``, ``>`` and ``&`` escaped as Terraform does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return _plain_number(value)
    if isinstance(value, str):
        quoted = json.dumps(str(value), ensure_ascii=False)
        for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            quoted = quoted.replace(char, escape)
        return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, list):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (json_text(key) + ":" + json_text(value[key]) for key in sorted(value))
        return "{" + ",".join(items) + "}"
    raise ValueError(f"cannot encode {value!r} as JSON")


def _plain_number(value: int | float) -> str:
    # Terraform writes numbers without an exponent: 1e16 is 10000000000000000.
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- format -----------------------------------------------------------------------------


def format_values(spec: str, values: Sequence[Any]) -> str:
    """``format(spec, values...)`` with Terraform's verbs, flags, width and precision."""
    out: list[str] = []
    next_arg = 0
    used = 0
    index = 0
    while index < len(spec):
        char = spec[index]
        index += 1
        if char != "%":
            out.append(char)
            continue
        if spec.startswith("%", index):
            out.append("%")
            index += 1
            continue
        flags = ""
        while index < len(spec) and spec[index] in _FLAGS:
            flags += spec[index]
            index += 1
        width, index = _digits(spec, index)
        precision: int | None = None
        if spec.startswith(".", index):
            precision, index = _digits(spec, index + 1)
            precision = precision or 0
        if spec.startswith("[", index):
            end = spec.find("]", index)
            position = spec[index + 1 : end] if end > 0 else ""
            if not position.isdigit() or int(position) < 1:
                raise ValueError(f"invalid argument index [{position}] in the format string")
            next_arg = int(position) - 1
            index = end + 1
        if index >= len(spec):
            raise ValueError("the format string ends inside a % sequence")
        verb = spec[index]
        index += 1
        if next_arg >= len(values):
            raise ValueError(f"not enough arguments for %{verb} (argument {next_arg + 1})")
        out.append(_verb(verb, flags, width, precision, values[next_arg], next_arg + 1))
        next_arg += 1
        used = max(used, next_arg)
    if used < len(values):
        if not used:
            raise ValueError("too many arguments; no verbs in the format string")
        raise ValueError(f"too many arguments; only {used} used by the format string")
    return "".join(out)


def _digits(spec: str, index: int) -> tuple[int | None, int]:
    start = index
    while index < len(spec) and spec[index].isdigit():
        index += 1
    return (int(spec[start:index]) if index > start else None), index


def _verb(
    verb: str, flags: str, width: int | None, precision: int | None, value: Any, at: int
) -> str:
    if verb == "v":
        if "#" in flags or value is None or isinstance(value, list | dict):
            return _pad("", json_text(value), flags, width)
        verb = "t" if isinstance(value, bool) else "g" if is_number(value) else "s"
    if value is None:
        raise ValueError(f"argument {at} is null: only %v can format null")
    if isinstance(value, Secret):
        raise ValueError(f"{value.source} {SECRET_IN_STRING}")
    if verb in ("s", "q"):
        text = plain_text(value)
        if precision:
            text = text[:precision]
        return _pad("", json.dumps(text, ensure_ascii=False) if verb == "q" else text, flags, width)
    if verb == "t":
        flag = to_bool(value)
        if flag is None:
            raise ValueError(f"%t needs true or false, got argument {at}")
        return _pad("", "true" if flag else "false", flags, width)
    amount = to_number(value)
    if amount is None or verb not in "dboxXeEfgG":
        if verb not in "dboxXeEfgG":
            raise ValueError(f"unsupported format verb %{verb}")
        raise ValueError(f"%{verb} needs a number, got argument {at}")
    sign = "-" if amount < 0 else "+" if "+" in flags else " " if " " in flags else ""
    if verb in _INTEGER_VERBS:
        if not isinstance(amount, int):
            raise ValueError(f"%{verb} needs a whole number, got {to_text(amount)}")
        digits = format(abs(amount), _INTEGER_VERBS[verb])
        if precision:
            digits = digits.rjust(precision, "0")
        prefix = _ALTERNATE.get(verb, "") if "#" in flags else ""
        return _pad(sign + prefix, digits, flags, width, zeros=precision is None)
    return _pad(sign, _float(verb, abs(amount), precision), flags, width, zeros=True)


def _float(verb: str, amount: int | float, precision: int | None) -> str:
    if precision is None and verb in "gG":
        digits, point = _shortest(amount)
        exponent = point - 1
        # Go's %g without a precision switches to an exponent from 1e+06 and below 1e-04.
        if exponent < -4 or exponent >= 6:
            mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
            text = f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
        elif point <= 0:
            text = "0." + "0" * -point + digits
        elif point >= len(digits):
            text = digits + "0" * (point - len(digits))
        else:
            text = digits[:point] + "." + digits[point:]
        return text.upper() if verb == "G" else text
    return format(amount, f".{6 if precision is None else precision}{verb}")


def _shortest(amount: int | float) -> tuple[str, int]:
    """The fewest digits that give back ``amount``, and where the decimal point goes."""
    text = str(amount) if isinstance(amount, int) else repr(float(amount))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    stripped = stripped.rstrip("0")
    return (stripped, point) if stripped else ("0", 1)


def _pad(prefix: str, body: str, flags: str, width: int | None, zeros: bool = False) -> str:
    missing = (width or 0) - len(prefix) - len(body)
    if missing <= 0:
        return prefix + body
    if "-" in flags:
        return prefix + body + " " * missing
    if "0" in flags and zeros:
        return prefix + "0" * missing + body
    return " " * missing + prefix + body


# -- title -------------------------------------------------------------------------------


def title(text: str) -> str:
    """``title``: capitalise the first letter of each word, as Go's strings.Title does."""
    out: list[str] = []
    previous = " "
    for char in text:
        out.append(char.upper() if _separates(previous) and len(char.upper()) == 1 else char)
        previous = char
    return "".join(out)


def _separates(char: str) -> bool:
    if char.isascii():
        return not (char.isalnum() or char == "_")
    if char.isalpha() or char.isdigit():
        return False
    return char.isspace()


# -- replace with a regular expression -----------------------------------------------------


def regex_replace(text: str, pattern: str, replacement: str) -> str:
    """Replace every match of RE2 ``pattern``, expanding ``$1``/``${name}`` as Go does."""
    compiled = compile_re2(pattern)
    out: list[str] = []
    position = 0
    last_end = -1
    for match in compiled.finditer(text):
        # Go skips an empty match right after the previous match; Python does not.
        if match.start() == match.end() == last_end:
            continue
        out.append(text[position : match.start()])
        out.append(_expand(match, replacement))
        position = last_end = match.end()
    out.append(text[position:])
    return "".join(out)


def _expand(match: re.Match[str], template: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(template):
        char = template[index]
        if char != "$" or index + 1 >= len(template):
            out.append(char)
            index += 1
            continue
        if template[index + 1] == "$":
            out.append("$")
            index += 2
            continue
        braced = template[index + 1] == "{"
        start = index + 2 if braced else index + 1
        end = start
        while end < len(template) and (template[end].isalnum() or template[end] == "_"):
            end += 1
        name = template[start:end]
        if not name or (braced and not template.startswith("}", end)):
            out.append("$")
            index += 1
            continue
        index = end + 1 if braced else end
        out.append(_group(match, name))
    return "".join(out)


def _group(match: re.Match[str], name: str) -> str:
    try:
        found = match.group(int(name) if name.isdigit() else name)
    except IndexError:
        return ""
    return found or ""


def compile_re2(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern with Python's re, refusing what RE2 does not have."""
    out: list[str] = []
    index = 0
    in_class = False
    multiline = False
    ends: list[int] = []
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            escape = pattern[index : index + 2]
            if escape[1:] in ("1", "2", "3", "4", "5", "6", "7", "8", "9") and not in_class:
                raise _lacks(pattern, f"backreferences ({escape})")
            if escape == "\\Z":
                raise _lacks(pattern, "\\Z (use \\z)")
            out.append("\\Z" if escape == "\\z" else escape)
            index += 2
            continue
        if in_class:
            if pattern.startswith("[:", index):
                end = pattern.find(":]", index + 2)
                name = pattern[index + 2 : end] if end > 0 else ""
                if name not in _POSIX_CLASSES:
                    raise ValueError(f"unknown character class [:{name}:] in {pattern!r}")
                out.append(_POSIX_CLASSES[name])
                index = end + 2
                continue
            in_class = char != "]"
            out.append("\\[" if char == "[" else char)
            index += 1
            continue
        if char == "[":
            in_class = True
            index += 1
            opener = "["
            if pattern.startswith("^", index):
                opener += "^"
                index += 1
            if pattern.startswith("]", index):
                opener += "\\]"
                index += 1
            out.append(opener)
            continue
        if char == "(" and pattern.startswith("(?", index):
            rest = pattern[index + 1 :]
            for start, what in _RE2_LACKS:
                if rest.startswith(start):
                    raise _lacks(pattern, what)
            if rest.startswith("?<"):
                out.append("(?P<")
                index += 3
                continue
            flags = rest[1:].split(":", 1)[0].split(")", 1)[0]
            if "U" in flags:
                raise _lacks(pattern, "the U (ungreedy) flag")
            multiline = multiline or "m" in flags.split("-", 1)[0]
        if char in "*+?}" and pattern.startswith("+", index + 1):
            raise _lacks(pattern, "possessive quantifiers")
        if char == "$":
            ends.append(len(out))
        out.append(char)
        index += 1
    # RE2's $ is the end of the text; Python's also matches before a final newline.
    for at in [] if multiline else ends:
        out[at] = "\\Z"
    translated = "".join(out)
    try:
        return re.compile(translated, re.ASCII)
    except re.error as error:
        raise ValueError(f"invalid regular expression {pattern!r}: {error}") from None


def _lacks(pattern: str, what: str) -> ValueError:
    return ValueError(f"{pattern!r}: Terraform's regular expressions (RE2) have no {what}")


def regex(pattern: str, text: str) -> Any:
    """Terraform's ``regex``: the first match, its groups as a list, or named groups as a map."""
    compiled = compile_re2(pattern)
    match = compiled.search(text)
    if match is None:
        raise ValueError("pattern did not match any part of the given string")
    return _match_value(compiled, match)


def regexall(pattern: str, text: str) -> list[Any]:
    """Terraform's ``regexall``: every match, each as ``regex`` gives it; empty when none."""
    compiled = compile_re2(pattern)
    return [_match_value(compiled, match) for match in compiled.finditer(text)]


def _match_value(compiled: re.Pattern[str], match: re.Match[str]) -> Any:
    if compiled.groupindex:
        return {name: match.group(name) for name in compiled.groupindex}
    if compiled.groups:
        return list(match.groups())
    return match.group(0)
