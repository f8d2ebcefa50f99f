"""Evaluate HCL expressions by walking python-hcl2's lark tree; user text is never eval()'d.

Operators live in operators.py, functions in functions.py, templates in templates.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from lark import Token

from symbox.config import functions, iteration, operators, templates
from symbox.config.hcl import (
    Attribute,
    Block,
    Problem,
    heredoc_body,
    literal_string,
    module_dir,
    node_line,
    show,
    step_name,
    trees,
    type_name,
    unwrap,
)
from symbox.config.instances import Group, Index, instance_key
from symbox.config.model import Location, Secret
from symbox.config.schema import INVALID, address, is_invalid, is_number, number, to_text
from symbox.config.variables import Supplied, conform, unset_message


@dataclass(frozen=True)
class ModuleOutputs:
    """A local module call as its caller sees it: where it is called, and its outputs."""

    location: Location
    values: Mapping[str, Callable[[], Any]]


@dataclass(frozen=True)
class ModuleGroup:
    """A local module call with for_each or count: its instances' outputs by key."""

    location: Location
    counted: bool
    # None while the call's for_each or count is not evaluated yet.
    instances: Mapping[Index, ModuleOutputs] | None
    failed: bool = False


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
        written_argument: Callable[[str, Sequence[str | None]], tuple[int, Attribute] | None]
        | None = None,
        groups: Callable[[str, str], Group | None] | None = None,
        bindings: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
        prefix: str = "",
        module_outputs: Callable[[str], ModuleOutputs | ModuleGroup | None] | None = None,
        lookups: Mapping[tuple[str, str], Block] | None = None,
    ) -> None:
        self._variables = variables
        self._locals = locals_
        self._resources = resources
        self._resource_args = resource_args
        self._environ = environ
        self._problems = problems
        # Problems go here, except inside try() and can(), which collect their own.
        self._all_problems = problems
        # Values from tfvars files, --var and the environment, already ordered by precedence.
        self._supplied = supplied or {}
        # Explains a reference to a block symbox ignores (data, module, non-sym resources).
        self._unknown_reference = unknown_reference
        # Arguments written in those ignored resource and data blocks, which are known.
        self._written_argument = written_argument
        # Resources with for_each or count, and the each/count names their instances see.
        self._groups = groups
        self._bindings = bindings if bindings is not None else {}
        # Inside a module call, its resources' keys start with the call's address prefix.
        self._prefix = prefix
        # A local module call's location and outputs, by the call's name.
        self._module_outputs = module_outputs
        # Sym's own data sources (data "sym_runtime" "x" { name = ... }), by type and label.
        self._lookups = lookups or {}
        self._values: dict[str, Any] = {}
        self._active: list[str] = []
        # Variable defaults and tfvars values are constants, as in Terraform: while one is
        # evaluated this names it, and references are refused.
        self._constant_only: str | None = None
        # Names bound by enclosing for expressions and template loops, innermost last.
        self._scopes: list[Mapping[str, Any]] = []
        # Set while a templatefile() renders: only its vars may be referred to.
        self._template: str | None = None

    # -- entry points ---------------------------------------------------------------

    def evaluate(
        self,
        expr: Any,
        file: str,
        instance: tuple[str, str] | None = None,
        names: Mapping[str, Any] | None = None,
    ) -> Any:
        """Evaluate ``expr`` written in ``file``, inside resource ``instance`` if given.

        ``names`` binds ``each`` or ``count`` for one instance of a module call's arguments.
        """
        bound = names or (self._bindings.get(instance, {}) if instance else {})
        with self._bound(bound):
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

    def output(self, name: str, attribute: Attribute) -> Any:
        """The value of this module's ``output "NAME"``."""
        return self._memo(f"output.{name}", None, partial(self._attribute_value, attribute))

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
                bindings = self._bindings.get((resource_type, key), {})
                compute = partial(self._attribute_value, attribute, bindings)
                return self._memo(f"{resource_type}.{key}.{name}", at, compute)
        return None

    # -- helpers --------------------------------------------------------------------

    def _attribute_value(
        self, attribute: Attribute, bindings: Mapping[str, Any] | None = None
    ) -> Any:
        with self._bound(bindings or {}):
            return self._eval(attribute.expr, attribute.location.file, attribute.location.line)

    def _problem(self, file: str, line: int, message: str) -> Any:
        self._problems.append(Problem(Location(file, line), message))
        return INVALID

    def _static(self, file: str, line: int, message: str) -> Any:
        # Mistakes Terraform finds before evaluating (undeclared names, unknown functions)
        # are reported even inside try() and can(), so a typo is never silently skipped.
        self._all_problems.append(Problem(Location(file, line), message))
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
        # A local or argument is evaluated on its own: no loop variables, and its problems
        # are its own even when first reached inside try().
        saved = self._scopes, self._template, self._problems
        self._scopes, self._template, self._problems = [], None, self._all_problems
        try:
            value = compute()
        finally:
            self._active.pop()
            self._scopes, self._template, self._problems = saved
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
        value = self.constant(default.expr, where.file, where.line, "variable defaults")
        if is_invalid(value):
            return value
        # The default takes the declared type too, as Terraform converts it.
        try:
            return conform(value, kind)
        except ValueError as error:
            return self._problem(where.file, where.line, f"variable {name}: default: {error}")

    # -- the walk -------------------------------------------------------------------

    def _eval(self, node: Any, file: str, line: int) -> Any:
        line = node_line(node, line)
        data = node.data
        if data == "expr_term":
            return self._eval(trees(node)[0], file, line)
        if data == "constant":
            # A value already known, such as a field of Sym's 1.x prompt_fields_json.
            return node.value
        if data == "bound_expr":
            # From a dynamic block's content: its iterators are bound around it.
            with self._bound(node.names):
                return self._eval(node.expr, file, line)
        if data == "int_lit":
            return int(str(node.children[0]))
        if data == "float_lit":
            return number(float(str(node.children[0])))
        if data == "literal_value":
            return {"true": True, "false": False, "null": None}[str(node.children[0])]
        if data == "string":
            return self._template_value(templates.from_string(node, file, line), file)
        if data in ("heredoc_template", "heredoc_template_trim"):
            body = heredoc_body(node.children[0], data.endswith("_trim"))
            parsed = templates.from_text(body, file, line + 1, "heredoc")
            return self._template_value(parsed, file)
        if data == "tuple":
            items = [self._eval(child, file, line) for child in trees(node)]
            return INVALID if any(is_invalid(item) for item in items) else items
        if data == "object":
            return self._object(node, file, line)
        if data in ("identifier", "get_attr_expr_term", "index_expr_term"):
            return self._traversal(node, file, line)
        if data in iteration.SPLATS:
            return iteration.splat(node, self._in_scope(file, line), self._applier(file, line))
        if data in ("for_tuple_expr", "for_object_expr"):
            report = partial(self._problem, file, line)
            return iteration.for_expression(node, self._in_scope(file, line), report)
        if data == "function_call":
            return self._call(node, file, line)
        if data == "binary_op":
            return self._binary(node, file, line)
        if data == "unary_op":
            return self._unary(node, file, line)
        if data == "conditional":
            return self._conditional(node, file, line)
        return self._problem(file, line, f"unsupported expression {data}")

    def _template_value(self, parsed: tuple[templates.Node, ...] | Problem, file: str) -> Any:
        if isinstance(parsed, Problem):
            self._problems.append(parsed)
            return INVALID

        def evaluate(expr: Any, line: int, bindings: Mapping[str, Any]) -> Any:
            return self._in_scope(file, line)(expr, bindings)

        return templates.render(parsed, evaluate, partial(self._problem, file))

    def _in_scope(self, file: str, line: int) -> iteration.Evaluate:
        def evaluate(node: Any, bindings: Mapping[str, Any]) -> Any:
            with self._bound(bindings):
                return self._eval(node, file, line)

        return evaluate

    def _applier(self, file: str, line: int) -> iteration.Apply:
        return lambda value, steps, shown: self._apply(value, steps, shown, file, line)

    @contextmanager
    def _bound(self, names: Mapping[str, Any]) -> Iterator[None]:
        self._scopes.append(names)
        try:
            yield
        finally:
            self._scopes.pop()

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
        try:
            return key if is_invalid(key) else operators.map_key(key)
        except ValueError as error:
            return self._problem(file, line, str(error))

    # -- references -------------------------------------------------------------------

    def _traversal(self, node: Any, file: str, line: int) -> Any:
        steps: list[Any] = []
        while node.data in ("get_attr_expr_term", "index_expr_term"):
            inner, step = trees(node)
            steps.append(step)
            node = unwrap(inner)
        steps.reverse()
        if node.data != "identifier":
            value = self._eval(node, file, line)
            return self._apply(value, steps, iteration.describe(node), file, line)
        root = str(node.children[0])
        for scope in reversed(self._scopes):
            if root in scope:
                return self._apply(scope[root], steps, root, file, line)
        names = [step_name(step) for step in steps]
        shown = ".".join([root, *[name for name in names[:2] if name is not None]])
        if self._template is not None:
            msg = f"{shown}: a template can only use the vars given to templatefile()"
            return self._static(file, line, msg)
        if self._constant_only:
            return self._problem(file, line, f"{self._constant_only} cannot refer to {shown}")
        if root in ("each", "count"):
            only = (
                "each.key and each.value are only set in a resource with for_each"
                if root == "each"
                else "count.index is only set in a resource with count"
            )
            return self._static(file, line, f"unknown reference {shown}: {only}")
        if root in ("var", "local", "path"):
            if not names or names[0] is None:
                return self._static(file, line, f"{root} must be followed by .NAME")
            return self._namespace(root, names[0], steps[1:], file, line)
        if root.startswith("sym_") or any(kind == root for kind, _ in self._resources):
            return self._resource_ref(root, names, steps, file, line)
        if root == "module" and names and names[0] is not None and self._module_outputs:
            outputs = self._module_outputs(names[0])
            if isinstance(outputs, ModuleGroup):
                return self._module_instance(names[0], outputs, steps[1:], file, line)
            if outputs is not None:
                return self._module_ref(names[0], outputs, names[1:], steps[1:], file, line)
        if root == "data" and len(names) > 1 and (names[0], names[1]) in self._lookups:
            kind, label = str(names[0]), str(names[1])
            shown = f"data.{kind}.{label}"
            key = self._memo(shown, (file, line), partial(self._lookup, kind, label))
            if is_invalid(key):
                return key
            return self._apply({"id": f"{kind}.{key}"}, steps[2:], shown, file, line)
        written = self._written_argument(root, names) if self._written_argument else None
        if written is not None:
            used, argument = written
            shown = ".".join([root, *(str(name) for name in names[:used])])
            value = self._memo(shown, (file, line), partial(self._attribute_value, argument))
            return self._apply(value, steps[used:], shown, file, line)
        explained = self._unknown_reference(root, names) if self._unknown_reference else None
        if explained is None and root == "module" and names and names[0] is not None:
            explained = (
                f'reference to undeclared module module.{names[0]}: no module "{names[0]}" '
                "block here"
            )
        return self._static(file, line, explained or f"unknown reference {shown}")

    def _namespace(self, root: str, name: str, rest: list[Any], file: str, line: int) -> Any:
        shown = f"{root}.{name}"
        if root == "path":
            if name not in ("module", "root"):
                return self._static(file, line, f"unknown reference {shown}")
            value: Any = module_dir(file)
        elif root == "var":
            if name not in self._variables:
                return self._static(file, line, f"undefined variable {shown}")
            value = self._memo(shown, (file, line), lambda: self._variable(name))
        else:
            if name not in self._locals:
                return self._static(file, line, f"undefined local value {shown}")
            local = partial(self._attribute_value, self._locals[name])
            value = self._memo(shown, (file, line), local)
        return self._apply(value, rest, shown, file, line)

    def _module_ref(
        self,
        call: str,
        outputs: ModuleOutputs,
        names: list[str | None],
        steps: list[Any],
        file: str,
        line: int,
        named: bool = False,
    ) -> Any:
        """``module.CALL.OUTPUT`` or, alone, ``module.CALL`` as an object of its outputs.

        ``named``: ``call`` is already the shown address (``module.a["k"]``).
        """
        shown = call if named else f"module.{call}"
        if not names or names[0] is None:
            value: Any = {name: compute() for name, compute in outputs.values.items()}
            if any(is_invalid(item) for item in value.values()):
                return INVALID
            return self._apply(value, steps, shown, file, line)
        name = names[0]
        if name not in outputs.values:
            declared = ", ".join(sorted(outputs.values)) or "(none)"
            return self._static(
                file,
                line,
                f"{shown} has no output {name}: the module called at {outputs.location} "
                f"declares outputs: {declared}",
            )
        return self._apply(outputs.values[name](), steps[1:], f"{shown}.{name}", file, line)

    def _lookup(self, kind: str, label: str) -> Any:
        """The key of the one ``kind`` resource a Sym data source names (by name and type)."""
        block = self._lookups[(kind, label)]
        wanted: dict[str, Any] = {}
        for attribute in block.attributes:
            if attribute.name in ("name", "type"):
                wanted[attribute.name] = self._attribute_value(attribute)
        if any(is_invalid(value) for value in wanted.values()):
            return INVALID
        found = [
            key
            for resource, key in self._resources
            if resource == kind
            and all(self.attribute(kind, key, name) == value for name, value in wanted.items())
        ]
        if len(found) == 1:
            return found[0]
        at = block.location
        asked = ", ".join(f"{name} = {show(value)}" for name, value in wanted.items())
        why = "none" if not found else f"{len(found)} ({', '.join(sorted(found))})"
        return self._problem(
            at.file,
            at.line,
            f"data.{kind}.{label}: Sym looks up the {kind} with {asked or 'no filter'} in your "
            f"Sym organization; symbox looks in this config and found {why}",
        )

    def _module_instance(
        self, call: str, group: ModuleGroup, steps: list[Any], file: str, line: int
    ) -> Any:
        """``module.CALL[KEY].OUTPUT`` picks one instance; ``module.CALL`` alone is all."""
        shown = f"module.{call}"
        if group.instances is None:
            return self._problem(
                file,
                line,
                f"{shown}: its instances are not known yet here: another module call's "
                "for_each or count cannot depend on a module call with for_each or count",
            )
        if group.failed:
            return INVALID
        if not steps or step_name(steps[0]) is not None:
            objects = {
                index: {name: compute() for name, compute in outputs.values.items()}
                for index, outputs in group.instances.items()
            }
            if any(is_invalid(v) for o in objects.values() for v in o.values()):
                return INVALID
            value: Any = list(objects.values()) if group.counted else objects
            return self._apply(value, steps, shown, file, line)
        index = self._step_index(steps[0], file, line)
        if is_invalid(index):
            return index
        keys = Group("module", call, tuple(group.instances), group.counted)
        found = keys.instance(index)
        if found is None:
            return self._problem(
                file, line, f"{shown}: no instance {show(index)}; instances: {keys.shown_keys()}"
            )
        rest = steps[1:]
        names = [step_name(step) for step in rest]
        where = f"module.{instance_key(call, found)}"
        return self._module_ref(where, group.instances[found], names, rest, file, line, named=True)

    def _step_index(self, step: Any, file: str, line: int) -> Any:
        if step.data == "short_index":
            return int(str(step.children[1]))
        return self._eval(trees(step)[0], file, line)

    def _resource_ref(
        self, kind: str, names: list[str | None], steps: list[Any], file: str, line: int
    ) -> Any:
        if not names or names[0] is None:
            return self._static(file, line, f"{kind} must be followed by .NAME.id")
        key = self._prefix + names[0]
        group = self._groups(kind, key) if self._groups else None
        if group is not None:
            return self._instance_ref(group, steps[1:], file, line)
        if (kind, key) not in self._resources:
            return self._static(file, line, f"reference to undefined resource {kind}.{key}")
        return self._member(kind, key, names[1:], steps[1:], file, line)

    def _instance_ref(self, group: Group, steps: list[Any], file: str, line: int) -> Any:
        """``TYPE.NAME[KEY]...`` picks one instance; ``TYPE.NAME`` alone is all of them."""
        if group.failed:
            return INVALID
        shown = f"{group.kind}.{group.name}"
        if not steps or step_name(steps[0]) is not None:
            objects = {
                index: {"id": f"{group.kind}.{instance_key(group.name, index)}"}
                for index in group.keys
            }
            value: Any = list(objects.values()) if group.counted else objects
            return self._apply(value, steps, shown, file, line)
        index = self._step_index(steps[0], file, line)
        if is_invalid(index):
            return index
        found = group.instance(index)
        if found is None:
            return self._problem(
                file, line, f"{shown}: no instance {show(index)}; instances: {group.shown_keys()}"
            )
        key = instance_key(group.name, found)
        rest = steps[1:]
        return self._member(group.kind, key, [step_name(s) for s in rest], rest, file, line)

    def _member(
        self,
        kind: str,
        key: str,
        names: list[str | None],
        steps: list[Any],
        file: str,
        line: int,
    ) -> Any:
        """``.id`` or another argument of resource ``kind.key``, then any further steps."""
        shown = address(kind, key)
        if not names:
            # The resource as an object (passed whole to a module, say): its id and the
            # arguments that name it.
            return self._resource_object(kind, key, file, line)
        if names[0] is None:
            return self._static(file, line, f"{shown}: use {shown}.id to refer to it")
        attribute = names[0]
        if attribute == "id":
            # The model's reference (TYPE.KEY), not the address shown in messages.
            value: Any = f"{kind}.{key}"
        else:
            known = self._resource_args(kind)
            if known is None or attribute not in known:
                return self._static(file, line, f"{shown} has no attribute {attribute}")
            value = self._resource_attribute(kind, key, attribute, (file, line))
        return self._apply(value, steps[1:], f"{shown}.{attribute}", file, line)

    def _resource_object(self, kind: str, key: str, file: str, line: int) -> Any:
        value: dict[str, Any] = {"id": f"{kind}.{key}"}
        written = {a.name for a in self._resources[(kind, key)].attributes}
        for name in ("name", "label", "type"):
            if name in written:
                value[name] = self._resource_attribute(kind, key, name, (file, line))
        return INVALID if any(is_invalid(item) for item in value.values()) else value

    def _apply(self, value: Any, steps: Sequence[Any], shown: str, file: str, line: int) -> Any:
        for step in steps:
            if is_invalid(value):
                return value
            name = step_name(step)
            if name is not None:
                index: Any = name
            elif step.data == "short_index":
                index = int(str(step.children[1]))
            else:
                index = self._eval(trees(step)[0], file, line)
                if is_invalid(index):
                    return index
            value = self._index(value, index, shown, file, line)
            shown = f"{shown}.{name}" if name is not None else f"{shown}[{show(index)}]"
        return value

    def _index(self, value: Any, index: Any, shown: str, file: str, line: int) -> Any:
        if isinstance(value, dict) and (isinstance(index, str) or is_number(index)):
            key = index if isinstance(index, str) else to_text(index)
            if key not in value:
                return self._problem(file, line, f"{shown} has no key {show(key)}")
            return value[key]
        position = operators.to_number(index) if isinstance(value, list) else None
        if isinstance(position, int):
            if not 0 <= position < len(value):
                return self._problem(file, line, f"{shown}: index {position} out of range")
            return value[position]
        if value is None:
            return self._problem(file, line, f"{shown} is null, so it has no {show(index)}")
        return self._problem(file, line, f"{shown} cannot be indexed with {show(index)}")

    # -- functions --------------------------------------------------------------------

    def _call(self, node: Any, file: str, line: int) -> Any:
        parts = trees(node)
        name = str(parts[0].children[0])
        arguments = parts[-1] if len(parts) > 1 and parts[-1].data == "arguments" else None
        nodes = trees(arguments) if arguments is not None else []
        expand = arguments is not None and any(
            isinstance(child, Token) and child.type == "ELLIPSIS" for child in arguments.children
        )
        known = name in functions.FUNCTIONS or name in functions.LAZY
        if not known or len(parts) > 2:
            supported = ", ".join(functions.supported())
            return self._static(
                file, line, f"unknown function {name}() (symbox supports {supported})"
            )
        if name in functions.LAZY:
            if expand:
                return self._problem(
                    file, line, f"{name}(): expanding arguments (...) is not supported"
                )
            return self._try(name, nodes, file, line)
        args = [self._eval(child, file, line) for child in nodes]
        if any(is_invalid(arg) for arg in args):
            return INVALID
        if expand:
            if not isinstance(args[-1], list):
                return self._problem(file, line, f"{name}(): only a list can be expanded with ...")
            args = [*args[:-1], *args[-1]]
        context = functions.Context(
            file, self._environ, self._render_file, self._template is not None
        )
        try:
            return functions.call(name, args, context)
        except functions.FunctionError as error:
            message = error.message if error.bare else f"{name}(): {error.message}"
            return self._problem(file, line, message)

    def _try(self, name: str, nodes: list[Any], file: str, line: int) -> Any:
        if name == "can" and len(nodes) != 1:
            return self._problem(file, line, "can() takes exactly one argument")
        if not nodes:
            return self._problem(file, line, "try() takes at least one argument")
        failures: list[Problem] = []
        outer = self._problems
        for node in nodes:
            self._problems = []
            try:
                value = self._eval(node, file, line)
            finally:
                caught, self._problems = self._problems, outer
            if not caught and not is_invalid(value):
                return True if name == "can" else value
            failures.extend(caught)
        if name == "can":
            return False
        last = f": the last failed with: {failures[-1].message}" if failures else ""
        return self._problem(file, line, f"try(): no argument could be evaluated{last}")

    def _render_file(self, text: str, shown: str, variables: Mapping[str, Any]) -> Any:
        parsed = templates.from_text(text, shown, 1, "template")
        saved = self._scopes, self._template
        self._scopes, self._template = [variables], shown
        try:
            return self._template_value(parsed, shown)
        finally:
            self._scopes, self._template = saved

    # -- operators --------------------------------------------------------------------

    def _binary(self, node: Any, file: str, line: int) -> Any:
        left_node, term = trees(node)
        operator_node, right_node = trees(term)
        symbol = str(operator_node.children[0]).strip()
        left = self._eval(left_node, file, line)
        right = self._eval(right_node, file, line)
        return self._operate(symbol, (left, right), file, line)

    def _unary(self, node: Any, file: str, line: int) -> Any:
        symbol = str(node.children[0])
        return self._operate(symbol, (self._eval(trees(node)[0], file, line),), file, line)

    def _operate(self, symbol: str, values: tuple[Any, ...], file: str, line: int) -> Any:
        if any(is_invalid(value) for value in values):
            return INVALID
        if any(isinstance(value, Secret) for value in values):
            return self._problem(file, line, "secrets from env() cannot be used with operators")
        try:
            if len(values) == 1:
                return operators.unary(symbol, values[0])
            return operators.binary(symbol, values[0], values[1])
        except ValueError as error:
            return self._problem(file, line, str(error))

    def _conditional(self, node: Any, file: str, line: int) -> Any:
        condition_node, yes, no = trees(node)
        condition = self._eval(condition_node, file, line)
        if is_invalid(condition):
            return condition
        flag = operators.to_bool(condition)
        if flag is None:
            return self._problem(file, line, "the condition before ? must be true or false")
        # Only the chosen side is evaluated, so a guard such as x != null ? x.y : z works.
        return self._eval(yes if flag else no, file, line)
