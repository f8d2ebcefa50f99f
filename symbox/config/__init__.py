"""Read a config file (or a folder of ``*.tf`` and ``*.hcl``) into the frozen Config model.

Imports nothing else of symbox: the config is read and checked before anything runs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence

from symbox.config.durations import format_duration, parse_duration
from symbox.config.expressions import Evaluator
from symbox.config.hcl import ConfigError, Problem, parse_file, sorted_problems
from symbox.config.model import Config, Location
from symbox.config.modules import discover as _discover
from symbox.config.modules import parse_files as _parse_files
from symbox.config.modules import read_text as _read
from symbox.config.schema import is_invalid, resource_args
from symbox.config.validate import Builder
from symbox.config.variables import (
    VAR,
    Layer,
    Supplied,
    VarOption,
    auto_var_files,
    command_line_layer,
    environment_layers,
    file_layer,
)

__all__ = [
    "ConfigError",
    "Problem",
    "VarOption",
    "format_duration",
    "load_config",
    "missing_flows",
    "parse_duration",
]

TFVARS_VALUES = "values in tfvars files"


def load_config(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
    variables: Sequence[VarOption] = (),
) -> Config:
    """Read a config file or folder, with its variables' values, and validate it."""
    environ = os.environ if environ is None else environ
    source = os.fspath(path)
    files = _discover(source)
    problems: list[Problem] = []
    roots = _parse_files(files, problems)
    layers = [*environment_layers(environ), *_file_layers(source, variables, problems)]
    if problems:
        raise ConfigError(sorted_problems(problems, files))
    builder = Builder(files, roots, environ, layers)
    return builder.build()


def missing_flows(config: Config) -> str | None:
    """Why a config that defines no sym_flow cannot be served (None when it defines one)."""
    if config.flows:
        return None
    return (
        f"no sym_flow: read {', '.join(config.files)}, and none of them defines a "
        'resource "sym_flow"; symbox serves flows, so there is nothing to run'
    )


def _file_layers(source: str, options: Sequence[VarOption], problems: list[Problem]) -> list[Layer]:
    """The folder's own tfvars files, then --var and --var-file in the order given."""
    layers: list[Layer] = []
    # Terraform loads these from the root module's folder; a single file has no folder of its own.
    if os.path.isdir(source):
        names = [name for name in os.listdir(source) if os.path.isfile(os.path.join(source, name))]
        for name in auto_var_files(names):
            layers.append(file_layer(_var_file(os.path.join(source, name), problems)))
    for option in options:
        if option.kind == VAR:
            try:
                layers.append(command_line_layer(option.text))
            except ValueError as error:
                problems.append(Problem(None, str(error)))
        elif not os.path.isfile(option.text):
            problems.append(Problem(None, f"--var-file {option.text}: no such file"))
        else:
            layers.append(file_layer(_var_file(option.text, problems)))
    return layers


def _var_file(name: str, problems: list[Problem]) -> dict[str, Supplied]:
    text = _read(name, problems)
    if text is None:
        return {}
    if name.endswith(".json"):
        return _json_var_file(name, text, problems)
    root, found = parse_file(text, name)
    problems.extend(found)
    if root is None:
        return {}
    for block in root.blocks:
        problems.append(
            Problem(block.location, f"{block.type} block: a tfvars file holds only NAME = value")
        )
    evaluator = Evaluator(
        variables={},
        locals_={},
        resources={},
        resource_args=resource_args,
        environ={},
        problems=problems,
    )
    values: dict[str, Supplied] = {}
    seen: dict[str, Location] = {}
    for attribute in root.attributes:
        name_, at = attribute.name, attribute.location
        if name_ in seen:
            first = seen[name_]
            problems.append(Problem(at, f"{name_} is set twice in this file (first at {first})"))
            continue
        seen[name_] = at
        value = evaluator.constant(attribute.expr, at.file, at.line, TFVARS_VALUES)
        if not is_invalid(value):
            values[name_] = Supplied(f"variable {name_}", at, value=value)
    return values


def _json_var_file(name: str, text: str, problems: list[Problem]) -> dict[str, Supplied]:
    try:
        data = json.loads(text)
    except ValueError as error:
        line = getattr(error, "lineno", 1)
        problems.append(Problem(Location(name, line), f"invalid JSON: {error}"))
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(Location(name, 1), "expected a JSON object of NAME: value"))
        return {}
    return {
        key: Supplied(f"variable {key}", Location(name, _json_line(text, key)), value=value)
        for key, value in data.items()
    }


def _json_line(text: str, key: str) -> int:
    # The json module keeps no positions; the key's first appearance is close enough to point at.
    found = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    return 1 if found is None else text.count("\n", 0, found.start()) + 1
