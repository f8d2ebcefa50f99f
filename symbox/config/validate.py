"""Build the Config model from parsed blocks, collecting every problem with its file:line."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from symbox.config import dynamic, schema
from symbox.config.expressions import Evaluator
from symbox.config.flows import build_flow
from symbox.config.hcl import (
    Attribute,
    Block,
    ConfigError,
    Problem,
    module_dir,
    show,
    sorted_problems,
)
from symbox.config.instances import Expander, instances_of, split_meta
from symbox.config.legacy import legacy_flow
from symbox.config.model import Config, Flow, Location
from symbox.config.modules import (
    CallGroup,
    Scope,
    add_output,
    call_inputs,
    local_source,
    outputs_of,
    read_folder,
)
from symbox.config.resources import (
    build_environment,
    build_error_logger,
    build_flows_filter,
    build_integration,
    build_log_destination,
    build_runtime,
    build_secret,
    build_secret_source,
    build_strategy,
    build_target,
)
from symbox.config.schema import IMPLEMENTED, Args, Reader, known
from symbox.config.terraform import (
    TERRAFORM_BLOCKS,
    describe,
    ignored_notice,
    ignored_reference,
    without_meta_arguments,
    written_argument,
)
from symbox.config.variables import Layer, check_variable, resolve


class Builder(Reader):
    """One validation run: top-level blocks, then resources, then cross-resource checks."""

    def __init__(
        self,
        files: tuple[str, ...],
        roots: list[Block],
        environ: Mapping[str, str],
        layers: Sequence[Layer] = (),
    ):
        self.files = files
        self.roots = roots
        self.environ = environ
        # Sources of variables' values, lowest precedence first.
        self.layers = layers
        self.problems: list[Problem] = []
        self.notices: list[str] = []
        self.variables: dict[str, Block] = {}
        self.locals: dict[str, Attribute] = {}
        self.resources: dict[tuple[str, str], Block] = {}
        # Blocks read past, by how a reference names them: ("data", TYPE, NAME), (TYPE, NAME).
        self.ignored: dict[tuple[str, ...], Block] = {}
        # The root folder's names, then each local module call's, by address prefix.
        root = Scope("", module_dir(files[0]) if files else ".")
        root.variables, root.locals, root.ignored = self.variables, self.locals, self.ignored
        self.scopes: dict[str, Scope] = {"": root}
        # Explanations given while checking locals no sym_* resource uses (see build).
        self._unused_local_refs: set[str] | None = None
        super().__init__(self.resources, self.problems)
        self.expander = Expander(
            self.resources,
            lambda kind, name, a: self._evaluator_of(name).evaluate(a.expr, a.location.file),
            self.problem,
        )
        self.args: dict[tuple[str, str], Args] = {}

    def build(self) -> Config:
        """Validate everything and return the model; raise ConfigError listing every problem."""
        for root in self.roots:
            for attribute in root.attributes:
                self.problem(
                    attribute.location, f"unexpected argument {attribute.name} outside a block"
                )
            for block in root.blocks:
                self._top(block, self.scopes[""])
        supplied = resolve(self.layers, self.variables)
        self.notices.extend(supplied.notices)
        self.problems.extend(supplied.problems)
        self.evaluator = Evaluator(
            variables=self.variables,
            locals_=self.locals,
            resources=self.resources,
            resource_args=schema.resource_args,
            environ=self.environ,
            problems=self.problems,
            supplied=supplied.values,
            unknown_reference=partial(self._ignored_reference, self.scopes[""]),
            written_argument=partial(written_argument, self.scopes[""].ignored),
            lookups=self.scopes[""].lookups,
            groups=self.expander.group,
            bindings=self.expander.bindings,
            module_outputs=partial(outputs_of, self.scopes[""]),
        )
        self.scopes[""].evaluator = self.evaluator
        self._add_evaluators()
        self._instantiate_modules()
        for scope in self.scopes.values():
            for name, block in scope.variables.items():
                assert scope.evaluator is not None
                check_variable(self, name, block, scope.evaluator)
        self.expander.expand()
        self._rewrite_blocks()
        for resource_type, key in self.resources:
            self.args[(resource_type, key)] = self._resource_args(resource_type, key)
        self._unused_locals()
        self._check_names()
        config = Config(
            files=self.files,
            integrations=self._each(
                "sym_integration",
                partial(build_integration, self, self.notices, self._has_secret),
            ),
            runtimes=self._each("sym_runtime", partial(build_runtime, self, self.args)),
            error_loggers=self._each(
                "sym_error_logger", partial(build_error_logger, self, self.args)
            ),
            log_destinations=self._each(
                "sym_log_destination", partial(build_log_destination, self, self.args)
            ),
            environments=self._each("sym_environment", build_environment),
            targets=self._each("sym_target", partial(build_target, self)),
            strategies=self._each("sym_strategy", partial(build_strategy, self, self.args)),
            flows=self._each("sym_flow", self._flow),
            secret_sources=self._each("sym_secrets", partial(build_secret_source, self)),
            secrets=self._each("sym_secret", build_secret),
            flows_filters=self._each("sym_flows_filter", build_flows_filter),
            notices=tuple(self.notices),
        )
        if self.problems:
            # A module's own mistakes read the same in each instance of its call: kept once.
            unique = list(dict.fromkeys(self.problems))
            raise ConfigError(sorted_problems(unique, self.files))
        return config

    # -- top-level blocks -----------------------------------------------------------

    def _top(self, block: Block, scope: Scope) -> None:
        kind, where = block.type, block.location
        if kind == "module" and local_source(block) is not None:
            self._module_call(block, scope)
        elif kind == "output" and scope.call is not None:
            if self._labels(block, 1, 'output "NAME"'):
                add_output(block, scope, self.problem)
        elif kind == "data" and len(block.labels) == 2 and block.labels[0] in schema.RESOURCES:
            # Sym's data sources look up a sym_* object by name: here, in this config.
            scope.lookups[(block.labels[0], block.labels[1])] = block
        elif kind in TERRAFORM_BLOCKS:
            self.notices.append(ignored_notice(block))
            if kind == "data" and len(block.labels) == 2:
                scope.ignored.setdefault(("data", *block.labels), block)
            elif kind in ("module", "output") and len(block.labels) == 1:
                scope.ignored.setdefault((kind, block.labels[0]), block)
        elif kind == "resource":
            self._resource(block, scope)
        elif kind == "variable":
            if self._labels(block, 1, 'variable "NAME"'):
                name = block.labels[0]
                self._declare(scope.variables, name, block, f"variable {name}")
        elif kind == "locals":
            if self._labels(block, 0, "locals"):
                for attribute in block.attributes:
                    name = attribute.name
                    self._declare(scope.locals, name, attribute, f"local value {name}")
                for nested in block.blocks:
                    self.problem(nested.location, f"locals: unexpected block {nested.type}")
        else:
            self.problem(
                where, f"unknown block type {kind} (symbox reads resource, variable and locals)"
            )

    def _labels(self, block: Block, count: int, shape: str) -> bool:
        if len(block.labels) == count:
            return True
        self.problem(block.location, f"{block.type} block: expected {shape} {{ ... }}")
        return False

    def _declare(self, table: dict[Any, Any], name: Any, item: Any, shown: str) -> None:
        if name in table:
            first = table[name].location
            self.problem(item.location, f"{shown} is defined twice (first at {first})")
        else:
            table[name] = item

    def _resource(self, block: Block, scope: Scope) -> None:
        if not self._labels(block, 2, 'resource "TYPE" "NAME"'):
            return
        kind, key = block.labels[0], scope.prefix + block.labels[1]
        if kind not in schema.RESOURCES:
            if kind.startswith("sym_"):
                types = known(frozenset(schema.RESOURCES))
                self.problem(block.location, f"unknown resource type {kind} (known: {types})")
            else:
                self.notices.append(
                    f"{block.location}: {describe(block)} block ignored: "
                    "symbox reads only sym_* resources"
                )
                # Named as the module's own files refer to it.
                scope.ignored.setdefault((kind, block.labels[1]), block)
            return
        block, meta = split_meta(
            without_meta_arguments(block, schema.address(kind, key), self.notices)
        )
        if (kind, key) not in self.resources:
            self.expander.declare(kind, key, meta)
        self._declare(self.resources, (kind, key), block, f"resource {kind}.{key}")
        if kind in IMPLEMENTED.unimplemented_resources:
            self.problem(block.location, f"{kind}.{key}: {kind} is not implemented yet in symbox")

    def _module_call(self, block: Block, parent: Scope) -> None:
        """Read a local module's folder into a new scope under ``parent``."""
        if not self._labels(block, 1, 'module "NAME"'):
            return
        name, folder = block.labels[0], local_source(block) or "."
        where = f"module.{name}"
        if name in parent.calls:
            first = parent.calls[name].call
            self.problem(
                block.location, f"{where} is defined twice (first at {first and first.location})"
            )
            return
        if name in parent.groups:
            first = parent.groups[name].call
            self.problem(block.location, f"{where} is defined twice (first at {first.location})")
            return
        if os.path.abspath(folder) in parent.folders():
            self.problem(block.location, f"{where}: the module at {folder} calls itself")
            return
        try:
            files, blocks = read_folder(folder, self.problems)
        except ConfigError as error:
            reason = "; ".join(problem.message for problem in error.problems)
            self.problem(block.location, f"{where}: source: {reason}")
            return
        self.files = (*self.files, *files)
        _, meta = split_meta(block)
        if meta:
            if len(meta) > 1:
                later = max(meta.values(), key=lambda a: a.location.line)
                self.problem(later.location, f"{where}: for_each and count cannot both be set")
            # Its instances are known only once expressions can be evaluated (see build).
            chosen = meta.get("for_each") or meta["count"]
            parent.groups[name] = CallGroup(block, chosen, folder, blocks, parent)
            return
        scope = Scope(f"{parent.prefix}module.{name}.", folder, block, parent)
        parent.calls[name] = scope
        self._read_scope(scope, blocks)

    def _read_scope(self, scope: Scope, blocks: list[Block]) -> None:
        self.scopes[scope.prefix] = scope
        for nested in blocks:
            self._top(nested, scope)

    def _add_evaluators(self) -> None:
        for scope in list(self.scopes.values()):
            if scope.call is not None and scope.evaluator is None:
                scope.evaluator = self._module_evaluator(scope)

    def _instantiate_modules(self) -> None:
        """Make each module call with for_each or count into one scope per instance.

        Instances may hold calls with for_each or count of their own, made in turn.
        """
        done: set[int] = set()
        while True:
            pending = [
                group
                for scope in list(self.scopes.values())
                for group in scope.groups.values()
                if id(group) not in done
            ]
            if not pending:
                return
            for group in pending:
                done.add(id(group))
                self._instantiate(group)
            self._add_evaluators()

    def _instantiate(self, group: CallGroup) -> None:
        assert group.parent.evaluator is not None
        meta = group.meta
        value = group.parent.evaluator.evaluate(meta.expr, meta.location.file)
        items = instances_of(meta.name, value)
        if isinstance(items, str):
            self.problem(meta.location, f"module.{group.call.labels[0]}: {meta.name}: {items}")
        if not isinstance(items, dict):
            group.failed, group.instances = True, {}
            return
        group.instances = {}
        for index, names in items.items():
            scope = group.instance_scope(index, names)
            group.instances[index] = scope
            self._read_scope(scope, group.blocks)

    def _module_evaluator(self, scope: Scope) -> Evaluator:
        """An evaluator for a module call's files: its inputs come from the caller's arguments."""
        return Evaluator(
            variables=scope.variables,
            locals_=scope.locals,
            resources=self.resources,
            resource_args=schema.resource_args,
            environ=self.environ,
            problems=self.problems,
            supplied=call_inputs(scope, self.problem),
            unknown_reference=partial(self._ignored_reference, scope),
            written_argument=partial(written_argument, scope.ignored),
            lookups=scope.lookups,
            groups=self.expander.group,
            bindings=self.expander.bindings,
            prefix=scope.prefix,
            module_outputs=partial(outputs_of, scope),
        )

    def named(self, kind: str, text: str) -> str | None:
        """The key of the ``kind`` resource keyed or named ``text``, if exactly one is."""
        if (kind, text) in self.resources:
            return text
        found = [
            key
            for resource, key in self.resources
            if resource == kind and self._evaluator_of(key).attribute(kind, key, "name") == text
        ]
        return found[0] if len(found) == 1 else None

    def _evaluator_of(self, key: str) -> Evaluator:
        """The evaluator of the scope a resource key (``module.a.db["x"]``) belongs to."""
        evaluator = self.scopes[schema.module_prefix(key)].evaluator
        assert evaluator is not None
        return evaluator

    def _ignored_reference(
        self, scope: Scope, root: str, names: Sequence[str | None]
    ) -> str | None:
        """Explain a reference to a block symbox read past, noting it while checking locals."""
        message = ignored_reference(scope.ignored, root, names)
        if message is not None and self._unused_local_refs is not None:
            self._unused_local_refs.add(message)
        return message

    def _unused_locals(self) -> None:
        """Check the locals no sym_* resource used; their references to ignored blocks are fine.

        A Terraform project's locals often read data sources and modules for its other
        resources; only a value a sym_* resource needs must exist for symbox.
        """
        start = len(self.problems)
        self._unused_local_refs = set()
        try:
            for scope in self.scopes.values():
                assert scope.evaluator is not None
                for name in scope.locals:
                    scope.evaluator.local(name)
        finally:
            fine, self._unused_local_refs = self._unused_local_refs, None
        self.problems[start:] = [p for p in self.problems[start:] if p.message not in fine]

    def _resource_args(self, kind: str, key: str) -> Args:
        block = self.resources[(kind, key)]
        where = schema.address(kind, key)
        args = self.read(
            block,
            schema.RESOURCES[kind],
            where,
            lambda attribute: self._evaluator_of(key).attribute(kind, key, attribute.name),
        )
        allowed = schema.RESOURCE_BLOCKS.get(kind, frozenset())
        seen: set[str] = set()
        for nested in block.blocks:
            if nested.type not in allowed:
                self.problem(nested.location, f"{where}: unexpected block {nested.type}")
            elif nested.type in seen:
                self.problem(nested.location, f"{where}: only one {nested.type} block is allowed")
            seen.add(nested.type)
        return args

    def _check_names(self) -> None:
        first: dict[tuple[str, str], str] = {}
        for (kind, key), args in self.args.items():
            name = args.values.get("name")
            if not isinstance(name, str):
                continue
            if (kind, name) in first:
                other = first[(kind, name)]
                self.problem(
                    args.lines["name"],
                    f"{kind}.{key}: name {show(name)} is already used by {kind}.{other}",
                )
            else:
                first[(kind, name)] = key

    def _each(self, kind: str, build: Callable[[str, Args, Location], Any]) -> dict[str, Any]:
        built: dict[str, Any] = {}
        for (resource_type, key), block in self.resources.items():
            if resource_type != kind:
                continue
            args = self.args[(kind, key)]
            model = build(key, args, block.location)
            if args.ok and model is not None:
                built[key] = model
        return built

    # -- what resource builders need from the Builder -----------------------------

    def _has_secret(self, name: str) -> bool:
        return ("sym_secret", name) in self.resources

    def _flow(self, key: str, args: Args, at: Location) -> Flow | None:
        block = self.resources[("sym_flow", key)]
        return build_flow(self, self.args, block, partial(self._nested, key), key, args, at)

    def _nested(self, key: str, attribute: Attribute, kind: str = "sym_flow") -> Any:
        evaluator = self._evaluator_of(key)
        return evaluator.evaluate(attribute.expr, attribute.location.file, (kind, key))

    def _rewrite_blocks(self) -> None:
        """Blocks Terraform generates (dynamic) or Sym's provider 1.x wrote another way."""
        for (kind, key), block in list(self.resources.items()):
            if kind == "sym_flow":
                evaluate = partial(self._nested, key, kind=kind)
                block = legacy_flow(
                    block, schema.address(kind, key), evaluate, self.problem, self.notices
                )
                self.resources[(kind, key)] = block
            if dynamic.has_dynamic(block):
                evaluate = partial(self._nested, key, kind=kind)
                where = schema.address(kind, key)
                self.resources[(kind, key)] = dynamic.expand(block, evaluate, self.problem, where)
