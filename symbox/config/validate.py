"""Build the Config model from parsed blocks, collecting every problem with its file:line."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from symbox.config import model, schema
from symbox.config.apis import (
    API_STRATEGY_TYPES,
    TOKEN_INTEGRATION_TYPES,
    check_api_integration,
    check_api_strategy,
    check_api_target,
)
from symbox.config.aws import check_aws_strategy, check_aws_target, check_permission_context
from symbox.config.custom import check_custom_integration, check_custom_strategy
from symbox.config.destinations import check_log_destination, check_segment_integration
from symbox.config.durations import parse_duration
from symbox.config.expressions import Evaluator
from symbox.config.hcl import (
    Attribute,
    Block,
    ConfigError,
    Problem,
    module_dir,
    show,
    sorted_problems,
)
from symbox.config.instances import Expander, split_meta
from symbox.config.model import Config, Location, Secret
from symbox.config.modules import (
    Scope,
    add_output,
    call_inputs,
    local_source,
    outputs_of,
    prefix_of,
    read_folder,
)
from symbox.config.prompt_fields import read_prompt_field
from symbox.config.schema import IMPLEMENTED, Args, Reader, is_invalid, known, to_text
from symbox.config.variables import Layer, resolve
from symbox.engine.people import InvalidEmail
from symbox.engine.permissions import APPROVERS_VAR, approver_entry

# Added when a strategy schedules de-escalation and the flow declares no duration field.
DEFAULT_DURATIONS = (30, 600, 3600)
# Terraform's own blocks: read past with one notice each, since symbox does not run Terraform.
TERRAFORM_BLOCKS = frozenset(
    {"provider", "terraform", "output", "data", "module", "moved", "import", "check", "removed"}
)
NOT_RUN = "symbox does not run Terraform"
# Meta-arguments of sym_* resources that only order or protect Terraform's own work.
IGNORED_ARGUMENTS = frozenset({"depends_on"})
IGNORED_BLOCKS = frozenset({"lifecycle"})
SUPPLY_VALUE = (
    "give the value as a variable (declare it, then set it with --var or in a tfvars file), "
    "or bring it in with symbox import from `terraform show -json`"
)


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
            groups=self.expander.group,
            bindings=self.expander.bindings,
            module_outputs=partial(outputs_of, self.scopes[""]),
        )
        self.scopes[""].evaluator = self.evaluator
        for scope in list(self.scopes.values()):
            if scope.call is not None:
                scope.evaluator = self._module_evaluator(scope)
        for scope in self.scopes.values():
            for name in scope.variables:
                self._variable(name, scope)
        self.expander.expand()
        for resource_type, key in self.resources:
            self.args[(resource_type, key)] = self._resource_args(resource_type, key)
        self._unused_locals()
        self._check_names()
        config = Config(
            files=self.files,
            integrations=self._each("sym_integration", self._integration),
            runtimes=self._each("sym_runtime", self._runtime),
            error_loggers=self._each("sym_error_logger", self._error_logger),
            log_destinations=self._each("sym_log_destination", self._log_destination),
            environments=self._each("sym_environment", self._environment),
            targets=self._each("sym_target", self._target),
            strategies=self._each("sym_strategy", self._strategy),
            flows=self._each("sym_flow", self._flow),
            secret_sources=self._each("sym_secrets", self._secret_source),
            secrets=self._each("sym_secret", self._secret),
            flows_filters=self._each("sym_flows_filter", self._flows_filter),
            notices=tuple(self.notices),
        )
        if self.problems:
            raise ConfigError(sorted_problems(self.problems, self.files))
        return config

    # -- top-level blocks -----------------------------------------------------------

    def _top(self, block: Block, scope: Scope) -> None:
        kind, where = block.type, block.location
        if kind == "module" and local_source(block) is not None:
            self._module_call(block, scope)
        elif kind == "output" and scope.call is not None:
            if self._labels(block, 1, 'output "NAME"'):
                add_output(block, scope, self.problem)
        elif kind in TERRAFORM_BLOCKS:
            self.notices.append(f"{where}: {_describe(block)} block ignored: {NOT_RUN}")
            if kind == "data" and len(block.labels) == 2:
                scope.ignored.setdefault(("data", *block.labels), block)
            elif kind in ("module", "output") and len(block.labels) == 1:
                scope.ignored.setdefault((kind, block.labels[0]), block)
        elif kind == "resource":
            self._resource(block, scope.prefix)
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

    def _resource(self, block: Block, prefix: str = "") -> None:
        if not self._labels(block, 2, 'resource "TYPE" "NAME"'):
            return
        kind, key = block.labels[0], prefix + block.labels[1]
        if kind not in schema.RESOURCES:
            if kind.startswith("sym_"):
                types = known(frozenset(schema.RESOURCES))
                self.problem(block.location, f"unknown resource type {kind} (known: {types})")
            else:
                self.notices.append(
                    f"{block.location}: {_describe(block)} block ignored: "
                    "symbox reads only sym_* resources"
                )
                self.ignored.setdefault((kind, key), block)
            return
        block, meta = split_meta(self._without_meta_arguments(block, f"{kind}.{key}"))
        if (kind, key) not in self.resources:
            self.expander.declare(kind, key, meta)
        self._declare(self.resources, (kind, key), block, f"resource {kind}.{key}")
        if kind in IMPLEMENTED.unimplemented_resources:
            self.problem(block.location, f"{kind}.{key}: {kind} is not implemented yet in symbox")

    def _without_meta_arguments(self, block: Block, where: str) -> Block:
        """``block`` without ``depends_on`` and ``lifecycle``, each noted once."""
        for attribute in block.attributes:
            if attribute.name in IGNORED_ARGUMENTS:
                self.notices.append(
                    f"{attribute.location}: {where}: {attribute.name} ignored: "
                    "symbox orders resources by their references"
                )
        for nested in block.blocks:
            if nested.type in IGNORED_BLOCKS:
                self.notices.append(f"{nested.location}: {where}: {nested.type} ignored: {NOT_RUN}")
        return replace(
            block,
            attributes=tuple(a for a in block.attributes if a.name not in IGNORED_ARGUMENTS),
            blocks=tuple(b for b in block.blocks if b.type not in IGNORED_BLOCKS),
        )

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
        if os.path.abspath(folder) in parent.folders():
            self.problem(block.location, f"{where}: the module at {folder} calls itself")
            return
        try:
            files, blocks = read_folder(folder, self.problems)
        except ConfigError as error:
            reason = "; ".join(problem.message for problem in error.problems)
            self.problem(block.location, f"{where}: source: {reason}")
            return
        scope = Scope(f"{parent.prefix}module.{name}.", folder, block, parent)
        parent.calls[name] = scope
        self.scopes[scope.prefix] = scope
        self.files = (*self.files, *files)
        for nested in blocks:
            self._top(nested, scope)

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
            groups=self.expander.group,
            bindings=self.expander.bindings,
            prefix=scope.prefix,
            module_outputs=partial(outputs_of, scope),
        )

    def _evaluator_of(self, key: str) -> Evaluator:
        """The evaluator of the scope a resource key (``module.a.db["x"]``) belongs to."""
        evaluator = self.scopes[prefix_of(key)].evaluator
        assert evaluator is not None
        return evaluator

    def _ignored_reference(
        self, scope: Scope, root: str, names: Sequence[str | None]
    ) -> str | None:
        """Explain a reference to a block symbox read past, naming where that block is."""
        steps = list(names[: names.index(None)] if None in names else names)
        size = 2 if root == "data" else 1
        if len(steps) < size:
            return None
        block = scope.ignored.get((root, *[str(step) for step in steps[:size]]))
        if block is None:
            return None
        shown = ".".join([root, *[str(step) for step in steps]])
        message = (
            f"{shown} needs the {_describe(block)} block at {block.location}, which symbox "
            f"ignores: "
            f"{SUPPLY_VALUE}"
        )
        if self._unused_local_refs is not None:
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
            for name in self.locals:
                self.evaluator.local(name)
        finally:
            fine, self._unused_local_refs = self._unused_local_refs, None
        self.problems[start:] = [p for p in self.problems[start:] if p.message not in fine]

    def _variable(self, name: str, scope: Scope) -> None:
        block = scope.variables[name]
        where = f"variable {name}"
        self.read(block, schema.VARIABLE, where, lambda a: None, evaluate=False)
        for nested in block.blocks:
            if nested.type != "validation":
                self.problem(nested.location, f"{where}: {nested.type} blocks are not supported")
        assert scope.evaluator is not None
        value = scope.evaluator.variable(name)
        if is_invalid(value):
            return
        for nested in block.blocks:
            if nested.type == "validation":
                self._validation(where, nested, scope.evaluator)

    def _validation(self, where: str, block: Block, evaluator: Evaluator) -> None:
        """Check a variable's ``validation`` block as Terraform does: condition, error_message."""
        found = {attribute.name: attribute for attribute in block.attributes}
        for name in sorted(set(found) - {"condition", "error_message"}):
            self.problem(found[name].location, f"{where}: validation: unknown argument {name}")
        missing = [name for name in ("condition", "error_message") if name not in found]
        for name in missing:
            self.problem(block.location, f"{where}: validation: missing required argument {name}")
        if missing:
            return
        condition = found["condition"]
        holds = evaluator.evaluate(condition.expr, condition.location.file)
        if is_invalid(holds):
            return
        if not isinstance(holds, bool):
            self.problem(
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
        self.problem(condition.location, f"{where}: invalid value: {to_text(text)}")

    def _resource_args(self, kind: str, key: str) -> Args:
        block = self.resources[(kind, key)]
        where = f"{kind}.{key}"
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

    def _type(self, args: Args, where: str, what: str, choices: frozenset[str]) -> bool:
        value = args.values.get("type")
        if value is None or value in choices:
            return value is not None
        shown = known(choices)
        self.problem(
            args.lines["type"], f"{where}: type: unknown {what} type {show(value)} (known: {shown})"
        )
        args.ok = False
        return False

    # -- resources ------------------------------------------------------------------

    def _integration(self, key: str, args: Args, at: Location) -> model.Integration | None:
        where = f"sym_integration.{key}"
        typed = self._type(args, where, "integration", schema.INTEGRATION_TYPES)
        if typed and args.values["type"] == "custom":
            check_custom_integration(
                self, where, args, at, lambda name: ("sym_secret", name) in self.resources
            )
        elif typed and args.values["type"] == "permission_context":
            check_permission_context(self, where, args, at)
        elif typed and args.values["type"] in TOKEN_INTEGRATION_TYPES:
            check_api_integration(
                self, where, args, at, lambda name: ("sym_secret", name) in self.resources
            )
        elif typed and args.values["type"] == "slack":
            self._slack_tokens(where, args, at)
        elif typed and args.values["type"] == "segment":
            check_segment_integration(self, where, args, at)
        if not args.ok:
            return None
        v = args.values
        return model.Integration(
            key, v["name"], v["type"], v["external_id"], v.get("label"), v.get("settings", {}), at
        )

    def _slack_tokens(self, where: str, args: Args, at: Location) -> None:
        """Sym's Slack integration has no tokens (Sym's app holds them); symbox needs its own."""
        settings = args.values.get("settings", {})
        line = args.lines.get("settings", at)
        for name in ("bot_token", "app_token"):
            token = settings.get(name)
            if token is not None and not isinstance(token, Secret):
                self.problem(line, f'{where}: settings.{name}: must be read with env("NAME")')
                args.ok = False
        if settings.get("bot_token") is None:
            self.notices.append(
                f"{at}: {where}: Slack stays off until symbox has its own Slack app's tokens: "
                'add settings.bot_token = env("SLACK_BOT_TOKEN") and '
                'settings.app_token = env("SLACK_APP_TOKEN") (see docs/slack.md)'
            )

    def _runtime(self, key: str, args: Args, at: Location) -> model.Runtime | None:
        self._integration_type(args, f"sym_runtime.{key}", "context_id", "permission_context")
        v = args.values
        return (
            model.Runtime(key, v["name"], v.get("label"), v.get("context_id"), at)
            if args.ok
            else None
        )

    def _error_logger(self, key: str, args: Args, at: Location) -> model.ErrorLogger | None:
        self._integration_type(args, f"sym_error_logger.{key}", "integration_id", "slack")
        v = args.values
        return (
            model.ErrorLogger(key, v["integration_id"], v["destination"], at) if args.ok else None
        )

    def _integration_type(self, args: Args, where: str, name: str, expected: str) -> None:
        ref = args.values.get(name)
        if ref is None:
            return
        actual = self.args[("sym_integration", ref)].values.get("type")
        if actual is not None and actual != expected:
            self.problem(
                args.lines[name],
                f"{where}: {name}: sym_integration.{ref} has type {show(actual)}, "
                f"expected {show(expected)}",
            )
            args.ok = False

    def _log_destination(self, key: str, args: Args, at: Location) -> model.LogDestination | None:
        where = f"sym_log_destination.{key}"
        if self._type(args, where, "log destination", schema.LOG_DESTINATION_TYPES):
            kind = args.values["type"]
            if kind not in IMPLEMENTED.log_destination_types:
                available = known(IMPLEMENTED.log_destination_types)
                self.problem(
                    args.lines["type"],
                    f"{where}: type: log destination type {kind} is not implemented yet "
                    f"in symbox (available: {available})",
                )
            path = args.values.get("settings", {}).get("path")
            if kind == "file" and path is not None and (not isinstance(path, str) or not path):
                self.problem(
                    args.lines["settings"], f"{where}: settings.path: expected a file path"
                )
                args.ok = False
            check_log_destination(self, where, args, at, self._integration_kind)
        v = args.values
        return (
            model.LogDestination(key, v["type"], v.get("integration_id"), v.get("settings", {}), at)
            if args.ok
            else None
        )

    def _environment(self, key: str, args: Args, at: Location) -> model.Environment | None:
        if not args.ok:
            return None
        v = args.values
        return model.Environment(
            key,
            v["name"],
            v.get("label"),
            v.get("runtime_id"),
            v.get("error_logger_id"),
            v.get("log_destination_ids", ()),
            v.get("integrations", {}),
            at,
        )

    def _target(self, key: str, args: Args, at: Location) -> model.Target | None:
        if self._type(args, f"sym_target.{key}", "target", schema.TARGET_TYPES):
            check_aws_target(self, f"sym_target.{key}", args, at)
            check_api_target(self, f"sym_target.{key}", args, at)
        if not args.ok:
            return None
        v = args.values
        return model.Target(
            key,
            v["name"],
            v["type"],
            v.get("label"),
            v.get("settings", {}),
            v.get("field_bindings", ()),
            at,
        )

    def _strategy(self, key: str, args: Args, at: Location) -> model.Strategy | None:
        where = f"sym_strategy.{key}"
        if self._type(args, where, "strategy", frozenset(schema.STRATEGY_TARGET_TYPES)):
            self._strategy_targets(where, args)
            if args.values["type"] == "http":
                self._http_settings(where, args, at)
            elif args.values["type"] == "custom":
                check_custom_strategy(self, where, args, at, self._integration_kind)
            elif args.values["type"] in ("aws_sso", "aws_iam", "aws_lambda") and args.ok:
                check_aws_strategy(self, where, args, at, self._integration_kind)
            elif args.values["type"] in API_STRATEGY_TYPES and args.ok:
                check_api_strategy(
                    self, where, args, at, lambda ref: self.args[("sym_integration", ref)]
                )
        if not args.ok:
            return None
        v = args.values
        return model.Strategy(
            key,
            v["name"],
            v["type"],
            v.get("label"),
            v["targets"],
            v.get("integration_id"),
            v.get("settings", {}),
            v.get("implementation"),
            at,
            args.paths.get("implementation"),
        )

    def _integration_kind(self, key: str) -> str | None:
        kind = self.args[("sym_integration", key)].values.get("type")
        return kind if isinstance(kind, str) else None

    def _strategy_targets(self, where: str, args: Args) -> None:
        kind = args.values["type"]
        fits = schema.STRATEGY_TARGET_TYPES[kind]
        for target in args.values.get("targets", ()):
            target_type = self.args[("sym_target", target)].values.get("type")
            if target_type is not None and target_type not in fits:
                self.problem(
                    args.lines["targets"],
                    f"{where}: targets: sym_target.{target} has type {show(target_type)}, which a "
                    f"{kind} strategy cannot grant (expected {known(fits)})",
                )
                args.ok = False

    def _http_settings(self, where: str, args: Args, at: Location) -> None:
        if "settings" in args.lines and "settings" not in args.values:
            return  # its problem is already reported
        settings = args.values.get("settings", {})
        line = args.lines.get("settings", at)
        url = settings.get("url")
        if url is None:
            self.problem(line, f"{where}: settings.url is required for http strategies")
        elif not isinstance(url, str) or not url.startswith(("http://", "https://")):
            self.problem(line, f"{where}: settings.url: expected an http:// or https:// URL")
        secret = settings.get("signing_secret")
        if secret is None:
            self.problem(line, f"{where}: settings.signing_secret is required for http strategies")
        elif not isinstance(secret, Secret):
            self.problem(
                line,
                f'{where}: settings.signing_secret: must be read with env("NAME"), '
                "not written in the config",
            )
        if url is None or secret is None or not isinstance(secret, Secret):
            args.ok = False

    def _flow(self, key: str, args: Args, at: Location) -> model.Flow | None:
        where = f"sym_flow.{key}"
        block = self.resources[("sym_flow", key)]
        params_block = next((b for b in block.blocks if b.type == "params"), None)
        params = self._params(where, params_block, partial(self._nested, key))
        if not args.ok or params is None:
            return None
        v = args.values
        self._approvers(where, v.get("vars", {}), args.lines.get("vars", at))
        return model.Flow(
            key,
            v["name"],
            v.get("label"),
            v["implementation"],
            args.paths.get("implementation"),
            v["environment_id"],
            v.get("vars", {}),
            params,
            at,
        )

    def _approvers(self, where: str, flow_vars: Mapping[str, str], line: Location) -> None:
        """Refuse approver entries that no sign-in could ever match, saying why."""
        for item in flow_vars.get(APPROVERS_VAR, "").split(","):
            if not item.strip():
                continue
            try:
                approver_entry(item)
            except InvalidEmail as error:
                self.problem(line, f'{where}: vars["{APPROVERS_VAR}"]: {error}')

    def _secret_source(self, key: str, args: Args, at: Location) -> model.SecretSource | None:
        self._type(args, f"sym_secrets.{key}", "secrets", schema.SECRET_SOURCE_TYPES)
        v = args.values
        if not args.ok:
            return None
        return model.SecretSource(key, v["name"], v["type"], v.get("settings", {}), at)

    def _secret(self, key: str, args: Args, at: Location) -> model.SecretRef | None:
        v = args.values
        if not args.ok:
            return None
        return model.SecretRef(
            key, v["path"], v["source_id"], v.get("label"), v.get("settings", {}), at
        )

    def _flows_filter(self, key: str, args: Args, at: Location) -> model.FlowsFilter | None:
        v = args.values
        if not args.ok:
            return None
        return model.FlowsFilter(
            key, v["implementation"], v.get("vars", {}), v.get("integrations", {}), at
        )

    # -- flow params ----------------------------------------------------------------

    def _nested(self, key: str, attribute: Attribute) -> Any:
        evaluator = self._evaluator_of(key)
        return evaluator.evaluate(attribute.expr, attribute.location.file, ("sym_flow", key))

    def _params(
        self, flow: str, block: Block | None, nested: Callable[[Attribute], Any]
    ) -> model.FlowParams | None:
        where = f"{flow}: params"
        args = Args() if block is None else self.read(block, schema.PARAMS, where, nested)
        v = args.values
        revoke, deescalate = v.get("allow_revoke", True), v.get("schedule_deescalation", True)
        if block is not None and not revoke and not deescalate:
            self.problem(
                block.location,
                f"{where}: allow_revoke and schedule_deescalation cannot both be false",
            )
            args.ok = False
        sources = v.get("allowed_sources", schema.ALLOWED_SOURCES)
        for source in sources:
            if source not in schema.ALLOWED_SOURCES:
                self.problem(
                    args.lines["allowed_sources"],
                    f"{where}: allowed_sources: unknown source {show(source)} (known: api, slack)",
                )
                args.ok = False
        fields: list[model.PromptField] = []
        names: set[str | None] = set()
        for prompt in block.blocks if block is not None else ():
            if prompt.type != "prompt_field":
                self.problem(prompt.location, f"{where}: unexpected block {prompt.type}")
                args.ok = False
                continue
            prompt_field = read_prompt_field(self, flow, prompt, nested)
            name = prompt_field.name if prompt_field else next(iter(prompt.labels), None)
            twice = name in names
            if twice:
                self.problem(prompt.location, f"{flow}: prompt field {show(name)} is set twice")
            names.add(name)
            if prompt_field is None or twice:
                args.ok = False
            else:
                fields.append(prompt_field)
        strategy = v.get("strategy_id")
        self._strategy_implemented(flow, strategy, args)
        duration = next((f for f in fields if f.name == "duration"), None)
        if block is not None and strategy is not None and deescalate:
            if duration is None:
                fields.append(
                    model.PromptField(
                        *("duration", "duration", "Duration", True, True, None),
                        *(DEFAULT_DURATIONS, False, None, block.location),
                    )
                )
            elif duration.type != "duration":
                self.problem(
                    duration.location,
                    f'{flow}: prompt field "duration" must have type duration: '
                    "the strategy schedules de-escalation",
                )
                args.ok = False
        if not args.ok:
            return None
        return model.FlowParams(
            strategy=strategy,
            allow_revoke=revoke,
            schedule_deescalation=deescalate,
            allowed_sources=tuple(sources),
            include_decision_message=v.get("include_decision_message", False),
            additional_header_text=v.get("additional_header_text"),
            allow_guest_interaction=v.get("allow_guest_interaction", False),
            prompt_fields=tuple(fields),
            request_ttl=v.get("request_ttl", parse_duration(schema.DEFAULT_REQUEST_TTL)),
        )

    def _strategy_implemented(self, flow: str, strategy: str | None, args: Args) -> None:
        kind = self.args[("sym_strategy", strategy)].values.get("type") if strategy else None
        if kind is None or kind in IMPLEMENTED.strategy_types:
            return
        available = known(IMPLEMENTED.strategy_types)
        self.problem(
            args.lines["strategy_id"],
            f"{flow}: strategy type {kind} is not implemented yet in symbox "
            f"(available: {available})",
        )
        args.ok = False


def _describe(block: Block) -> str:
    """A block as it was written: ``data "aws_caller_identity" "current"``, ``terraform``."""
    return " ".join([block.type, *(show(label) for label in block.labels)])
