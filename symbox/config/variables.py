"""Where variables' values come from and which one wins: Terraform's order, plus SYMBOX_VAR_.

Lowest to highest (a later source wins): the variable's ``default``; ``TF_VAR_name``;
``SYMBOX_VAR_name``; ``terraform.tfvars``; ``terraform.tfvars.json``; ``*.auto.tfvars`` and
``*.auto.tfvars.json`` in lexical order; then ``--var`` and ``--var-file`` in command-line
order. This module only orders and types values; reading the files is the loader's job.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from symbox.config import schema
from symbox.config.functions import to_set
from symbox.config.grammar import trees_kept_in
from symbox.config.hcl import Block, Problem, parse_file, show
from symbox.config.model import Location
from symbox.config.schema import Reader, convert_override, is_invalid, is_number, to_text

if TYPE_CHECKING:
    # Only for annotations: expressions imports this module to learn variables' values.
    from symbox.config.expressions import Evaluator

VAR = "var"
VAR_FILE = "var_file"
# Environment prefixes in rising precedence: symbox's own wins over Terraform's.
ENV_PREFIXES = ("TF_VAR_", "SYMBOX_VAR_")
TFVARS = "terraform.tfvars"
TFVARS_JSON = "terraform.tfvars.json"
AUTO_SUFFIXES = (".auto.tfvars", ".auto.tfvars.json")
# What an undeclared name in a source means, as in Terraform: the environment holds
# unrelated names, a file may serve several configs, a --var is a typo worth stopping.
IGNORE = "ignore"
NOTICE = "notice"
ERROR = "error"
_COLLECTIONS = ("list", "set", "tuple", "map", "object")


@dataclass(frozen=True)
class VarOption:
    """One ``--var NAME=VALUE`` (kind ``var``) or ``--var-file FILE`` (kind ``var_file``)."""

    kind: str
    text: str


@dataclass(frozen=True)
class Supplied:
    """A value given to a variable from outside its block, and where it was given."""

    # Shown before a problem with the value: "SYMBOX_VAR_n", "--var n", "variable n".
    source: str
    # Where a file's value was written; None for the command line and the environment.
    location: Location | None = None
    # Text from the command line or the environment, typed per the declared ``type``.
    text: str | None = None
    # A value parsed from a file, already typed.
    value: Any = None

    def typed(self, kind: str | None) -> Any:
        """The value as a variable of ``type = kind`` holds it; raise ValueError to explain."""
        if self.text is not None:
            if kind in COMPLEX_KINDS:
                # As Terraform reads -var and TF_VAR_ values of complex types: HCL (or JSON).
                return conform(constant_value(self.text), kind)
            return convert_override(self.text, kind)
        return conform(self.value, kind)


COMPLEX_KINDS = frozenset({"list", "set", "tuple", "map", "object"})


def constant_value(text: str) -> Any:
    """An HCL value written on the command line (``["a", "b"]``, ``{ a = 1 }``, JSON)."""
    # Imported here: the evaluator itself reads variables through this module.
    from symbox.config.expressions import Evaluator
    from symbox.config.schema import resource_args

    problems: list[Problem] = []
    # Never kept with the parse trees: a value from the environment may be a secret.
    with trees_kept_in(None):
        root, found = parse_file(f"value = {text}\n", "<value>")
    if root is None or found or len(root.attributes) != 1 or root.blocks:
        raise ValueError('expected an HCL value, such as ["a", "b"] or { a = 1 }')
    evaluator = Evaluator(
        variables={},
        locals_={},
        resources={},
        resource_args=resource_args,
        environ={},
        problems=problems,
    )
    value = evaluator.constant(
        root.attributes[0].expr, "<value>", 1, "a value given on the command line"
    )
    if problems or is_invalid(value):
        reason = problems[0].message if problems else "not a value"
        raise ValueError(reason)
    return value


@dataclass(frozen=True)
class Layer:
    """The values of one source, and what an undeclared name in it means."""

    values: Mapping[str, Supplied]
    undeclared: str = IGNORE


@dataclass
class Resolution:
    """Each declared variable's winning value, plus notices and problems about the sources."""

    values: dict[str, Supplied] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def environment_layers(environ: Mapping[str, str]) -> list[Layer]:
    """``TF_VAR_name`` then ``SYMBOX_VAR_name`` values, lowest first."""
    layers = []
    for prefix in ENV_PREFIXES:
        values = {
            key[len(prefix) :]: Supplied(key, text=text)
            for key, text in environ.items()
            if key.startswith(prefix) and len(key) > len(prefix)
        }
        layers.append(Layer(values))
    return layers


def auto_var_files(names: Iterable[str]) -> list[str]:
    """The names among a folder's files that Terraform loads by itself, in its order."""
    present = set(names)
    fixed = [name for name in (TFVARS, TFVARS_JSON) if name in present]
    auto = sorted(
        name for name in present if name.endswith(AUTO_SUFFIXES) and not name.startswith(".")
    )
    return fixed + auto


def parse_var(text: str) -> tuple[str, str]:
    """Split ``--var NAME=VALUE``; raise ValueError when it has no ``=`` or no name."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise ValueError(f"--var {show(text)}: expected NAME=VALUE")
    return name, value


def command_line_layer(text: str) -> Layer:
    """One ``--var NAME=VALUE`` as a layer of its own (options apply in the order given)."""
    name, value = parse_var(text)
    return Layer({name: Supplied(f"--var {name}", text=value)}, undeclared=ERROR)


def file_layer(values: Mapping[str, Supplied]) -> Layer:
    """The values of one tfvars file."""
    return Layer(values, undeclared=NOTICE)


def resolve(layers: Sequence[Layer], declared: Collection[str]) -> Resolution:
    """Merge ``layers`` (lowest precedence first) for the ``declared`` variables."""
    result = Resolution()
    for layer in layers:
        for name, supplied in layer.values.items():
            if name in declared:
                result.values[name] = supplied
            elif layer.undeclared == NOTICE:
                where = f"{supplied.location}: " if supplied.location else ""
                result.notices.append(
                    f"{where}value for undeclared variable {name} ignored "
                    f'(no variable "{name}" block declares it)'
                )
            elif layer.undeclared == ERROR:
                result.problems.append(
                    Problem(
                        None,
                        f'{supplied.source}: no variable "{name}" is declared in the config',
                    )
                )
    return result


def unset_message(name: str) -> str:
    """Why a variable has no value, and every way to give it one."""
    return (
        f"variable {name} has no default and no value was given: set it with "
        f"--var {name}=VALUE, in a --var-file, terraform.tfvars(.json) or *.auto.tfvars(.json) "
        f"file ({name} = ...), or with the environment variable TF_VAR_{name} or SYMBOX_VAR_{name}"
    )


def conform(value: Any, kind: str | None) -> Any:
    """A file's value converted to a declared ``type`` the way Terraform converts it."""
    if value is None or kind in (None, "any"):
        return value
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool) or is_number(value):
            return to_text(value)
        raise ValueError(f"expected a string, got {show(value)}")
    if kind in ("number", "bool"):
        if isinstance(value, str):
            return convert_override(value, kind)
        if kind == "number" and is_number(value):
            return value
        if kind == "bool" and isinstance(value, bool):
            return value
        expected = "a number" if kind == "number" else "true or false"
        raise ValueError(f"expected {expected}, got {show(value)}")
    if kind in _COLLECTIONS[:3] and not isinstance(value, list):
        raise ValueError(f"expected a {kind}, got {show(value)}")
    if kind in _COLLECTIONS[3:] and not isinstance(value, dict):
        raise ValueError(f"expected a {kind}, got {show(value)}")
    # A set-typed variable is a set, as toset() makes: for_each takes it as it is.
    return to_set(value) if kind == "set" else value


def check_variable(reader: Reader, name: str, block: Block, evaluator: Evaluator) -> None:
    """Check a ``variable`` block's arguments, then its ``validation`` blocks against its value."""
    where = f"variable {name}"
    reader.read(block, schema.VARIABLE, where, lambda a: None, evaluate=False)
    for nested in block.blocks:
        if nested.type != "validation":
            reader.problem(nested.location, f"{where}: {nested.type} blocks are not supported")
    value = evaluator.variable(name)
    if is_invalid(value):
        return
    for nested in block.blocks:
        if nested.type == "validation":
            _validation(reader, where, nested, evaluator)


def _validation(reader: Reader, where: str, block: Block, evaluator: Evaluator) -> None:
    """Check a variable's ``validation`` block as Terraform does: condition, error_message."""
    found = {attribute.name: attribute for attribute in block.attributes}
    for name in sorted(set(found) - {"condition", "error_message"}):
        reader.problem(found[name].location, f"{where}: validation: unknown argument {name}")
    missing = [name for name in ("condition", "error_message") if name not in found]
    for name in missing:
        reader.problem(block.location, f"{where}: validation: missing required argument {name}")
    if missing:
        return
    condition = found["condition"]
    holds = evaluator.evaluate(condition.expr, condition.location.file)
    if is_invalid(holds):
        return
    if not isinstance(holds, bool):
        reader.problem(
            condition.location,
            f"{where}: validation: condition must be true or false, got {show(holds)}",
        )
        return
    if holds:
        return
    message = found["error_message"]
    text = evaluator.evaluate(message.expr, message.location.file)
    if is_invalid(text):
        return
    reader.problem(condition.location, f"{where}: invalid value: {to_text(text)}")
