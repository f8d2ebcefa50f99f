"""Evaluate HCL expressions by walking python-hcl2's lark tree; user text is never eval()'d."""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any

from lark import Token

from symbox.config.hcl import (
    Attribute,
    Block,
    Problem,
    display_path,
    heredoc_parts,
    literal_string,
    module_dir,
    node_line,
    show,
    step_name,
    trees,
    type_name,
    unescape,
    unwrap,
)
from symbox.config.model import Location, Secret
from symbox.config.schema import (
    INVALID,
    FileContent,
    is_invalid,
    is_number,
    number,
    to_text,
)
from symbox.config.variables import Supplied, unset_message

SECRET_IN_STRING = "is a secret: use it as a whole value, not inside a string"
_UNSUPPORTED: Mapping[str, str] = MappingProxyType(
    {
        "for_tuple_expr": "for expressions are not supported",
        "for_object_expr": "for expressions are not supported",
        "attr_splat_expr_term": "splat expressions are not supported",
        "full_splat_expr_term": "splat expressions are not supported",
        "template_string": "template directives (%{...}) are not supported",
    }
)
_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = MappingProxyType(
    {
        "+": operator.add,
        "-": operator.sub,
        "*": operator.mul,
        "/": operator.truediv,
        "%": operator.mod,
        "<": operator.lt,
        ">": operator.gt,
        "<=": operator.le,
        ">=": operator.ge,
    }
)
_FUNCTIONS = ("env", "file", "jsonencode")


class Evaluator:
    """Evaluates expressions against variables, locals, resources and the environment."""

    def __init__(
        self,
        *,
        variables: Mapping[str, Block],
        locals_: Mapping[str, Attribute],
        resources: Mapping[tuple[str, str], Block],
        resource_args: Callable[[str], frozenset[str] | None],
        environ: Mapping[str, str],
        problems: list[Problem],
        supplied: Mapping[str, Supplied] | None = None,
        unknown_reference: Callable[[str, Sequence[str | None]], str | None] | None = None,
    ) -> None:
        self._variables = variables
        self._locals = locals_
        self._resources = resources
        self._resource_args = resource_args
        self._environ = environ
        self._problems = problems
        # Values from tfvars files, --var and the environment, already ordered by precedence.
        self._supplied = supplied or {}
        # Explains a reference to a block symbox ignores (data, module, non-sym resources).
        self._unknown_reference = unknown_reference
        self._values: dict[str, Any] = {}
        self._active: list[str] = []
        # Variable defaults and tfvars values are constants, as in Terraform: while one is
        # evaluated this names it, and references are refused.
        self._constant_only: str | None = None

    # -- entry points ---------------------------------------------------------------

    def evaluate(self, expr: Any, file: str) -> Any:
        """Evaluate ``expr`` written in ``file``; problems are recorded, INVALID returned."""
        return self._eval(expr, file, node_line(expr, 1))

    def variable(self, name: str) -> Any:
        """The value of ``var.NAME``: the supplied value that wins, else its default."""
        return self._memo(f"var.{name}", None, lambda: self._variable(name))

    def constant(self, expr: Any, file: str, line: int, what: str) -> Any:
        """Evaluate ``expr``, one of ``what`` (say, tfvars values), refusing references."""
        self._constant_only = what
        try:
            return self._eval(expr, file, line)
        finally:
            self._constant_only = None

    def local(self, name: str) -> Any:
        """The value of ``local.NAME``."""
        return self._memo(f"local.{name}", None, partial(self._attribute_value, self._locals[name]))

    def attribute(self, resource_type: str, key: str, name: str) -> Any:
        """The value of argument ``name`` of a resource, or None when it is not set."""
        return self._resource_attribute(resource_type, key, name, None)

    def _resource_attribute(
        self, resource_type: str, key: str, name: str, at: tuple[str, int] | None
    ) -> Any:
        block = self._resources[(resource_type, key)]
        for attribute in block.attributes:
            if attribute.name == name:
                return self._memo(
                    f"{resource_type}.{key}.{name}", at, partial(self._attribute_value, attribute)
                )
        return None

    # -- helpers --------------------------------------------------------------------

    def _attribute_value(self, attribute: Attribute) -> Any:
        return self._eval(attribute.expr, attribute.location.file, attribute.location.line)

    def _problem(self, file: str, line: int, message: str) -> Any:
        self._problems.append(Problem(Location(file, line), message))
        return INVALID

    def _memo(self, key: str, at: tuple[str, int] | None, compute: Callable[[], Any]) -> Any:
        if key in self._values:
            return self._values[key]
        if key in self._active:
            cycle = " -> ".join([*self._active[self._active.index(key) :], key])
            if at is not None:
                return self._problem(at[0], at[1], f"cycle in references: {cycle}")
            return INVALID
        self._active.append(key)
        try:
            value = compute()
        finally:
            self._active.pop()
        self._values[key] = value
        return value

    def _variable(self, name: str) -> Any:
        block = self._variables[name]
        file, line = block.location.file, block.location.line
        declared = {attribute.name: attribute for attribute in block.attributes}
        kind = type_name(declared["type"].expr) if "type" in declared else None
        supplied = self._supplied.get(name)
        if supplied is not None:
            try:
                return supplied.typed(kind)
            except ValueError as error:
                at = supplied.location or block.location
                return self._problem(at.file, at.line, f"{supplied.source}: {error}")
        if "default" not in declared:
            return self._problem(file, line, unset_message(name))
        default = declared["default"]
        where = default.location
        return self.constant(default.expr, where.file, where.line, "variable defaults")

    # -- the walk -------------------------------------------------------------------

    def _eval(self, node: Any, file: str, line: int) -> Any:
        line = node_line(node, line)
        data = node.data
        if data == "expr_term":
            return self._eval(trees(node)[0], file, line)
        if data == "int_lit":
            return int(str(node.children[0]))
        if data == "float_lit":
            return number(float(str(node.children[0])))
        if data == "literal_value":
            return {"true": True, "false": False, "null": None}[str(node.children[0])]
        if data == "string":
            return self._template(node, file, line)
        if data in ("heredoc_template", "heredoc_template_trim"):
            return self._heredoc(node.children[0], data.endswith("_trim"), file, line)
        if data == "tuple":
            items = [self._eval(child, file, line) for child in trees(node)]
            return INVALID if any(is_invalid(item) for item in items) else items
        if data == "object":
            return self._object(node, file, line)
        if data in ("identifier", "get_attr_expr_term", "index_expr_term"):
            return self._traversal(node, file, line)
        if data == "function_call":
            return self._call(node, file, line)
        if data == "binary_op":
            return self._binary(node, file, line)
        if data == "unary_op":
            return self._unary(node, file, line)
        if data == "conditional":
            return self._conditional(node, file, line)
        return self._problem(file, line, _UNSUPPORTED.get(str(data), f"unsupported {data}"))

    def _template(self, node: Any, file: str, line: int) -> Any:
        parts: list[tuple[Any, int] | str] = []
        for part in trees(node):
            child = part.children[0]
            if isinstance(child, Token):
                if child.type == "STRING_CHARS":
                    parts.append(unescape(str(child)))
                else:
                    parts.append(str(child)[1:])
            elif child.data == "interpolation":
                inner = trees(child)[0]
                parts.append((self._eval(inner, file, line), node_line(child, line)))
            else:
                msg = "template directives (%{...}) are not supported"
                return self._problem(file, node_line(child, line), msg)
        return self._render(parts, file)

    def _render(self, parts: list[tuple[Any, int] | str], file: str) -> Any:
        if len(parts) == 1 and isinstance(parts[0], tuple):
            return parts[0][0]
        pieces: list[str] = []
        invalid = False
        for part in parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value, at = part
            if is_invalid(value):
                invalid = True
            elif isinstance(value, Secret):
                invalid = True
                self._problem(file, at, f"{value.source} {SECRET_IN_STRING}")
            elif value is None:
                invalid = True
                self._problem(file, at, "cannot interpolate null into a string")
            elif isinstance(value, list | dict):
                invalid = True
                kind = "list" if isinstance(value, list) else "map"
                self._problem(file, at, f"cannot interpolate a {kind} into a string")
            else:
                pieces.append(to_text(value))
        return INVALID if invalid else "".join(pieces)

    def _heredoc(self, token: Any, trim: bool, file: str, line: int) -> Any:
        parts = heredoc_parts(token, trim, file, line)
        if isinstance(parts, Problem):
            self._problems.append(parts)
            return INVALID
        evaluated: list[tuple[Any, int] | str] = [
            part if isinstance(part, str) else (self._eval(part[0], file, part[1]), part[1])
            for part in parts
        ]
        return self._render(evaluated, file)

    def _object(self, node: Any, file: str, line: int) -> Any:
        result: dict[str, Any] = {}
        invalid = False
        for element in trees(node):
            key_node, value_node = trees(element)
            at = node_line(element, line)
            key = self._object_key(trees(key_node)[0], file, at)
            value = self._eval(value_node, file, at)
            if is_invalid(key) or is_invalid(value):
                invalid = True
            elif key in result:
                invalid = True
                self._problem(file, at, f"duplicate key {show(key)} in map")
            else:
                result[key] = value
        return INVALID if invalid else result

    def _object_key(self, node: Any, file: str, line: int) -> Any:
        if node.data == "keyword":
            return str(node.children[0])
        inner = trees(node)[0] if node.data == "expr_term" else node
        parenthesised = node.data == "expr_term" and isinstance(node.children[0], Token)
        if inner.data == "identifier" and not parenthesised:
            return str(inner.children[0])
        if inner.data == "literal_value" and not parenthesised:
            return str(inner.children[0])
        text = literal_string(inner)
        if text is not None:
            return text
        key = self._eval(node, file, line)
        if is_invalid(key) or isinstance(key, str):
            return key
        if isinstance(key, int | float) and not isinstance(key, bool):
            return to_text(key)
        return self._problem(file, line, "map keys must be strings")

    # -- references -------------------------------------------------------------------

    def _traversal(self, node: Any, file: str, line: int) -> Any:
        steps: list[Any] = []
        while node.data in ("get_attr_expr_term", "index_expr_term"):
            inner, step = trees(node)
            steps.append(step)
            node = unwrap(inner)
        steps.reverse()
        if node.data != "identifier":
            return self._apply(self._eval(node, file, line), steps, "value", file, line)
        root = str(node.children[0])
        names = [step_name(step) for step in steps]
        shown = ".".join([root, *[name for name in names[:2] if name is not None]])
        if self._constant_only:
            return self._problem(file, line, f"{self._constant_only} cannot refer to {shown}")
        if root in ("var", "local", "path"):
            if not names or names[0] is None:
                return self._problem(file, line, f"{root} must be followed by .NAME")
            return self._namespace(root, names[0], steps[1:], file, line)
        if root.startswith("sym_") or any(kind == root for kind, _ in self._resources):
            return self._resource_ref(root, names, steps, file, line)
        explained = self._unknown_reference(root, names) if self._unknown_reference else None
        return self._problem(file, line, explained or f"unknown reference {shown}")

    def _namespace(self, root: str, name: str, rest: list[Any], file: str, line: int) -> Any:
        shown = f"{root}.{name}"
        if root == "path":
            if name not in ("module", "root"):
                return self._problem(file, line, f"unknown reference {shown}")
            value: Any = module_dir(file)
        elif root == "var":
            if name not in self._variables:
                return self._problem(file, line, f"undefined variable {shown}")
            value = self._memo(shown, (file, line), lambda: self._variable(name))
        else:
            if name not in self._locals:
                return self._problem(file, line, f"undefined local value {shown}")
            local = partial(self._attribute_value, self._locals[name])
            value = self._memo(shown, (file, line), local)
        return self._apply(value, rest, shown, file, line)

    def _resource_ref(
        self, kind: str, names: list[str | None], steps: list[Any], file: str, line: int
    ) -> Any:
        if not names or names[0] is None:
            return self._problem(file, line, f"{kind} must be followed by .NAME.id")
        key = names[0]
        shown = f"{kind}.{key}"
        if (kind, key) not in self._resources:
            return self._problem(file, line, f"reference to undefined resource {shown}")
        if len(names) < 2 or names[1] is None:
            return self._problem(file, line, f"{shown}: use {shown}.id to refer to it")
        attribute = names[1]
        if attribute == "id":
            value: Any = shown
        else:
            known = self._resource_args(kind)
            if known is None or attribute not in known:
                return self._problem(file, line, f"{shown} has no attribute {attribute}")
            value = self._resource_attribute(kind, key, attribute, (file, line))
        return self._apply(value, steps[2:], f"{shown}.{attribute}", file, line)

    def _apply(self, value: Any, steps: list[Any], shown: str, file: str, line: int) -> Any:
        for step in steps:
            if is_invalid(value):
                return value
            name = step_name(step)
            if name is not None:
                index: Any = name
            elif step.data == "short_index":
                index = int(str(step.children[1]))
            elif step.data == "braces_index":
                index = self._eval(trees(step)[0], file, line)
                if is_invalid(index):
                    return index
            else:
                return self._problem(file, line, "splat expressions are not supported")
            if isinstance(value, dict) and isinstance(index, str):
                if index not in value:
                    return self._problem(file, line, f"{shown} has no key {show(index)}")
                value = value[index]
            elif isinstance(value, list) and isinstance(index, int) and not isinstance(index, bool):
                if not 0 <= index < len(value):
                    return self._problem(file, line, f"{shown}: index {index} out of range")
                value = value[index]
            else:
                return self._problem(file, line, f"{shown} cannot be indexed with {show(index)}")
            shown = f"{shown}[{show(index)}]"
        return value

    # -- functions and operators ------------------------------------------------------

    def _call(self, node: Any, file: str, line: int) -> Any:
        parts = trees(node)
        name = str(parts[0].children[0])
        if len(parts) > 1 and parts[-1].data == "arguments":
            arguments = parts[-1]
            if any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in arguments.children):
                return self._problem(
                    file, line, f"{name}(): expanding arguments (...) is not supported"
                )
            args = [self._eval(child, file, line) for child in trees(arguments)]
        else:
            args = []
        if name not in _FUNCTIONS or len(parts) > 2:
            supported = ", ".join(f"{known}()" for known in _FUNCTIONS)
            return self._problem(
                file, line, f"unknown function {name}() (symbox supports {supported})"
            )
        if len(args) != 1:
            return self._problem(file, line, f"{name}() takes exactly one argument")
        arg = args[0]
        if is_invalid(arg):
            return arg
        if name == "jsonencode":
            return self._jsonencode(arg, file, line)
        if not isinstance(arg, str):
            return self._problem(file, line, f"{name}() expects a string")
        if name == "env":
            value = self._environ.get(arg)
            if value is None:
                return self._problem(file, line, f"environment variable {arg} is not set")
            if value == "":
                return self._problem(file, line, f"environment variable {arg} is empty")
            return Secret(value, f"env({arg})")
        return self._file(arg, file, line)

    def _file(self, path: str, file: str, line: int) -> Any:
        base = module_dir(file)
        full = os.path.normpath(os.path.join(base, path))
        shown = display_path(full, file)
        try:
            with open(full, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return self._problem(file, line, f"file({show(path)}): no such file {shown}")
        except IsADirectoryError:
            return self._problem(file, line, f"file({show(path)}): {shown} is a folder")
        except UnicodeDecodeError:
            return self._problem(file, line, f"file({show(path)}): {shown} is not UTF-8 text")
        except OSError as error:
            return self._problem(
                file, line, f"file({show(path)}): cannot read {shown}: {error.strerror}"
            )
        content = FileContent(text)
        content.path = shown
        return content

    def _jsonencode(self, value: Any, file: str, line: int) -> Any:
        secret = _find_secret(value)
        if secret is not None:
            return self._problem(file, line, f"jsonencode(): {secret.source} {SECRET_IN_STRING}")
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def _binary(self, node: Any, file: str, line: int) -> Any:
        left_node, term = trees(node)
        operator_node, right_node = trees(term)
        symbol = str(operator_node.children[0]).strip()
        left = self._eval(left_node, file, line)
        right = self._eval(right_node, file, line)
        if is_invalid(left) or is_invalid(right):
            return INVALID
        if isinstance(left, Secret) or isinstance(right, Secret):
            return self._problem(file, line, "secrets from env() cannot be used with operators")
        if symbol in ("==", "!="):
            return (left == right) == (symbol == "==")
        if symbol in ("&&", "||"):
            if not isinstance(left, bool) or not isinstance(right, bool):
                return self._problem(file, line, f"{symbol} needs true or false on both sides")
            return (left and right) if symbol == "&&" else (left or right)
        if not is_number(left) or not is_number(right):
            return self._problem(file, line, f"{symbol} needs numbers on both sides")
        return self._arithmetic(symbol, left, right, file, line)

    def _arithmetic(self, symbol: str, left: Any, right: Any, file: str, line: int) -> Any:
        if symbol in ("/", "%") and right == 0:
            return self._problem(file, line, "division by zero")
        result = _OPERATORS[symbol](left, right)
        return result if isinstance(result, bool) else number(result)

    def _unary(self, node: Any, file: str, line: int) -> Any:
        symbol = str(node.children[0])
        value = self._eval(trees(node)[0], file, line)
        if is_invalid(value):
            return value
        if symbol == "!":
            if not isinstance(value, bool):
                return self._problem(file, line, "! needs true or false")
            return not value
        if not is_number(value):
            return self._problem(file, line, "- needs a number")
        return -value

    def _conditional(self, node: Any, file: str, line: int) -> Any:
        condition_node, yes, no = trees(node)
        condition = self._eval(condition_node, file, line)
        if is_invalid(condition):
            return condition
        if not isinstance(condition, bool):
            return self._problem(file, line, "the condition before ? must be true or false")
        return self._eval(yes if condition else no, file, line)


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
