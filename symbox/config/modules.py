"""Local ``module`` blocks: find and read a module's folder, and keep each call's own names.

A module's resources join the config under the call's address prefix
(``module.targets.db["x"]``); its variables, locals and outputs stay in its own scope.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from symbox.config.expressions import Evaluator, ModuleGroup, ModuleOutputs
from symbox.config.hcl import Attribute, Block, ConfigError, Problem, literal_string, parse_file
from symbox.config.instances import Index, instance_key
from symbox.config.model import Location
from symbox.config.overrides import Parsed, merge_overrides
from symbox.config.schema import INVALID, is_invalid
from symbox.config.variables import Supplied, conform

CONFIG_SUFFIXES = (".tf", ".hcl")
# Terraform's JSON syntax: found and refused by name, never read past silently.
JSON_SUFFIX = ".tf.json"
# Test files for `symbox test` (symbox.flowtest), never part of the config.
TEST_SUFFIX = ".symtest.hcl"
# Module block arguments that Terraform itself reads, not the module's variables.
CALL_ARGUMENTS = frozenset({"source", "version", "providers", "depends_on", "for_each", "count"})
LOCAL_PREFIXES = ("./", "../", ".\\", "..\\")


@dataclass
class Scope:
    """The root folder or one module call: its names, outputs and nested calls."""

    # "" for the root, "module.a." or "module.a.module.b." for calls.
    prefix: str
    folder: str
    call: Block | None = None
    parent: Scope | None = None
    variables: dict[str, Block] = field(default_factory=dict)
    locals: dict[str, Attribute] = field(default_factory=dict)
    outputs: dict[str, Attribute] = field(default_factory=dict)
    calls: dict[str, Scope] = field(default_factory=dict)
    # Blocks read past, by how a reference names them, as Builder.ignored.
    ignored: dict[tuple[str, ...], Block] = field(default_factory=dict)
    evaluator: Evaluator | None = None
    # Sym's own data sources (data "sym_runtime" "x"), looked up in this config.
    lookups: dict[tuple[str, str], Block] = field(default_factory=dict)
    # Calls with for_each or count made here, by name.
    groups: dict[str, CallGroup] = field(default_factory=dict)
    # For one instance of such a call: its address (module.a["k"]) and the each or count
    # its arguments see.
    address: str = ""
    names: Mapping[str, Any] = field(default_factory=dict)

    def folders(self) -> list[str]:
        """This call's folder and every enclosing call's, innermost first."""
        chain: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            chain.append(os.path.abspath(scope.folder))
            scope = scope.parent
        return chain


@dataclass
class CallGroup:
    """A module call with for_each or count: read once, made into scopes once evaluated."""

    call: Block
    meta: Attribute
    folder: str
    blocks: list[Block]
    parent: Scope
    # Each instance's scope by key, once the for_each or count has been evaluated.
    instances: dict[Index, Scope] | None = None
    failed: bool = False

    def instance_scope(self, index: Index, names: Mapping[str, Any]) -> Scope:
        """A new scope for one instance of the call, under its address."""
        address = f"module.{instance_key(self.call.labels[0], index)}"
        prefix = f"{self.parent.prefix}{address}."
        return Scope(prefix, self.folder, self.call, self.parent, address=address, names=names)


@dataclass(frozen=True)
class Input(Supplied):
    """A module call's argument for one of its variables, evaluated by the caller on demand."""

    compute: Callable[[], Any] = lambda: INVALID

    def typed(self, kind: str | None) -> Any:
        """The caller's value, converted to the variable's type; INVALID when it failed."""
        value = self.compute()
        return value if is_invalid(value) else conform(value, kind)


Report = Callable[[Location, str], None]


def local_source(block: Block) -> str | None:
    """The folder a module block's ``source`` names when it is a local path, else None."""
    source = next((a for a in block.attributes if a.name == "source"), None)
    text = literal_string(_inner(source.expr)) if source is not None else None
    if text is None or not text.startswith(LOCAL_PREFIXES):
        return None
    return os.path.normpath(os.path.join(os.path.dirname(block.location.file), text))


def read_folder(folder: str, problems: list[Problem]) -> tuple[tuple[str, ...], list[Block]]:
    """A module folder's files and their parsed blocks; unreadable files become problems."""
    files = discover(folder)
    blocks: list[Block] = []
    for root in parse_files(files, problems):
        for attribute in root.attributes:
            problems.append(
                Problem(attribute.location, f"unexpected argument {attribute.name} outside a block")
            )
        blocks.extend(root.blocks)
    return files, blocks


def parse_files(files: Sequence[str], problems: list[Problem]) -> list[Block]:
    """Each file's root block, with the override files merged into the others."""
    parsed: list[Parsed] = []
    for file in files:
        if file.endswith(JSON_SUFFIX):
            problems.append(
                Problem(
                    Location(file, 1),
                    "symbox does not read Terraform's JSON syntax: write this file as .tf, or "
                    "bring the project in with symbox import from `terraform show -json`",
                )
            )
            continue
        text = read_text(file, problems)
        root, found = parse_file(text, file) if text is not None else (None, [])
        problems.extend(found)
        if root is not None:
            parsed.append(Parsed(file, root))
    return merge_overrides(parsed, problems)


def add_output(block: Block, scope: Scope, report: Report) -> None:
    """Keep a module's ``output "NAME" { value = ... }`` for its callers."""
    value = next((a for a in block.attributes if a.name == "value"), None)
    name = block.labels[0]
    if value is None:
        report(block.location, f"output {name}: missing required argument value")
    elif name in scope.outputs:
        first = scope.outputs[name].location
        report(block.location, f"output {name} is defined twice (first at {first})")
    else:
        scope.outputs[name] = value


def outputs_of(scope: Scope, name: str) -> ModuleOutputs | ModuleGroup | None:
    """How ``scope``'s expressions see its local module call ``name``, if there is one."""
    group = scope.groups.get(name)
    if group is not None:
        instances = group.instances
        return ModuleGroup(
            group.call.location,
            group.meta.name == "count",
            None if instances is None else {k: _outputs(s) for k, s in instances.items()},
            group.failed,
        )
    call = scope.calls.get(name)
    return _outputs(call) if call is not None else None


def _outputs(call: Scope) -> ModuleOutputs:
    assert call.call is not None
    values = {
        output: partial(_output_value, call, output, attribute)
        for output, attribute in call.outputs.items()
    }
    return ModuleOutputs(call.call.location, values)


def call_inputs(scope: Scope, report: Report) -> dict[str, Supplied]:
    """A module call's arguments as its variables' values, each evaluated by the caller."""
    assert scope.call is not None and scope.parent is not None
    call, parent = scope.call, scope.parent
    # Problems with the call itself read the same for every instance (and are kept once).
    where = f"module.{call.labels[0]}"
    inputs: dict[str, Supplied] = {}
    for attribute in call.attributes:
        if attribute.name in CALL_ARGUMENTS:
            continue
        if attribute.name not in scope.variables:
            declared = ", ".join(sorted(scope.variables)) or "(none)"
            report(
                attribute.location,
                f"{where}: unexpected argument {attribute.name}: the module at "
                f"{scope.folder} declares no such variable (variables: {declared})",
            )
        else:
            inputs[attribute.name] = Input(
                f"{where}: {attribute.name}",
                attribute.location,
                compute=partial(_input, parent, attribute, scope.names),
            )
    for name, variable in scope.variables.items():
        if name in inputs or any(a.name == "default" for a in variable.attributes):
            continue
        report(
            call.location,
            f"{where}: missing required input {name} (variable {name} at {variable.location})",
        )
        # Reported here, at the call, instead of once more at the variable.
        inputs[name] = Input(f"{where}: {name}", call.location)
    for block in call.blocks:
        report(block.location, f"{where}: unexpected block {block.type}")
    return inputs


def _output_value(scope: Scope, name: str, attribute: Attribute) -> Any:
    assert scope.evaluator is not None
    return scope.evaluator.output(name, attribute)


def _input(parent: Scope, attribute: Attribute, names: Mapping[str, Any]) -> Any:
    assert parent.evaluator is not None
    return parent.evaluator.evaluate(attribute.expr, attribute.location.file, names=names)


def discover(path: str) -> tuple[str, ...]:
    """The config files of a folder (Terraform's rules), or the one file named."""
    if os.path.isdir(path):
        names = sorted(
            name
            for name in os.listdir(path)
            if name.endswith((*CONFIG_SUFFIXES, JSON_SUFFIX))
            and not _ignored_name(name)
            and os.path.isfile(os.path.join(path, name))
        )
        if not names:
            raise ConfigError([Problem(None, f"{path}: no *.tf or *.hcl files in this folder")])
        return tuple(os.path.join(path, name) for name in names)
    if os.path.isfile(path):
        return (path,)
    raise ConfigError([Problem(None, f"{path}: no such file or folder")])


def read_text(name: str, problems: list[Problem]) -> str | None:
    """A config file's text, or None with a problem saying why it cannot be read."""
    try:
        with open(name, encoding="utf-8-sig") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        problems.append(Problem(None, f"{name}: cannot read: {reason}"))
        return None


def _ignored_name(name: str) -> bool:
    # Terraform's rule: dot-files (.terraform.lock.hcl) and editors' backup files; and
    # `symbox test`'s files, which live next to the config as *.tftest.hcl files do.
    return (
        name.startswith(".")
        or name.endswith(("~", TEST_SUFFIX))
        or (name.startswith("#") and name.endswith("#"))
    )


def _inner(expr: Any) -> Any:
    # An argument's expression is wrapped in expr_term; the string itself is inside.
    while getattr(expr, "data", None) == "expr_term" and len(expr.children) == 1:
        expr = expr.children[0]
    return expr
