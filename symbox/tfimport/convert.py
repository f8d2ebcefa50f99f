"""The import itself: ``terraform show -json`` output in, the files of a symbox folder out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from symbox.config import schema
from symbox.config.schema import IMPLEMENTED
from symbox.tfimport import hclwrite
from symbox.tfimport.hclwrite import Attr, Block, Call, Comment, Ref
from symbox.tfimport.report import env_example, import_md
from symbox.tfimport.resources import Draft, draft
from symbox.tfimport.state import TfDocument, TfResource, module_names, read_document
from symbox.tfimport.values import EnvVar, Values

# The order resource types are written in: what others refer to comes first.
ORDER = (
    "sym_secrets",
    "sym_secret",
    "sym_integration",
    "sym_runtime",
    "sym_error_logger",
    "sym_log_destination",
    "sym_environment",
    "sym_target",
    "sym_strategy",
    "sym_flow",
    "sym_flows_filter",
)
# References a resource cannot do without: if their resource is not imported, neither is it.
NEEDED: Mapping[str, tuple[str, ...]] = {
    "sym_flow": ("environment_id",),
    "sym_strategy": ("targets", "integration_id"),
    "sym_error_logger": ("integration_id",),
    "sym_secret": ("source_id",),
}
_NOT_KEY = re.compile(r"[^A-Za-z0-9_]+")
_DROP = object()


@dataclass(frozen=True)
class Dropped:
    """A resource of the state that symbox does not import, and why."""

    address: str
    reason: str


@dataclass
class ImportResult:
    """Everything ``symbox import`` writes, and what it did, for IMPORT.md and the summary."""

    document: TfDocument
    drafts: list[Draft]
    dropped: list[Dropped]
    env: list[EnvVar]
    notes: list[str]
    files: dict[str, str] = field(default_factory=dict)

    def summary(self) -> list[str]:
        """Lines for the terminal: counts, then every disabled flow and commented resource."""
        used = [item for item in self.drafts if item.problem is None]
        lines = [
            f"{len(used)} resources imported, "
            f"{len(self.drafts) - len(used)} written commented out, "
            f"{len(self.dropped)} dropped; {len(self.env)} secrets to set (.env.example)"
        ]
        for item in self.drafts:
            if item.problem is None and item.disabled is not None:
                lines.append(f"disabled {item.address}: {item.disabled}")
        for item in self.drafts:
            if item.problem is not None:
                lines.append(f"commented out {item.address}: {item.problem}")
        return lines


def import_document(
    document: Any,
    project: Mapping[str, str] | None = None,
    source: str = "state.json",
    *,
    keep_secrets: bool = False,
) -> ImportResult:
    """Convert parsed ``terraform show -json`` output; ``project`` maps paths to file text.

    ``keep_secrets`` keeps ``api_token_secret``, ``client_secret_secret`` and
    ``password_secret`` as ``sym_secret.NAME.id`` instead of ``env()``.
    """
    return _Importer(read_document(document), project or {}, keep_secrets).run(source)


def resource_key(resource: TfResource) -> str:
    """A resource name for config.hcl from a Terraform address: modules, name, index."""
    parts = [*module_names(resource.module), resource.name]
    if resource.index is not None:
        parts.append(str(resource.index))
    key = _NOT_KEY.sub("_", "_".join(parts)).strip("_") or "resource"
    return f"r_{key}" if key[0].isdigit() else key


class _Importer:
    def __init__(self, document: TfDocument, project: Mapping[str, str], keep_secrets: bool):
        self.document = document
        self.project = project
        self.keep_secrets = keep_secrets
        self.dropped: list[Dropped] = []
        self.notes: list[str] = []
        self.files: dict[str, str] = {}
        # Set by _code while a resource is drafted: why its code could not be found.
        self._missing_code: str | None = None

    def run(self, source: str) -> ImportResult:
        chosen = self._select()
        keys: dict[str, str] = {}
        taken: set[tuple[str, str]] = set()
        for resource in chosen:
            base = key = resource_key(resource)
            count = 1
            while (resource.type, key) in taken:
                count += 1
                key = f"{base}_{count}"
            taken.add((resource.type, key))
            keys[resource.address] = key
        ids = {
            str(resource.values["id"]): Ref(resource.type, keys[resource.address])
            for resource in chosen
            if resource.values.get("id")
        }
        values = Values(ids, self._secret_origins(chosen, keys, ids), self.keep_secrets)
        drafts = []
        for resource in chosen:
            self._missing_code = None
            item = draft(resource, keys[resource.address], values, self._code)
            item.problem = self._missing_code or _unsupported(item, self.document)
            drafts.append(item)
        _cascade(drafts)
        _prune(drafts)
        self.notes.extend(values.notes)
        result = ImportResult(
            self.document, drafts, self.dropped, list(values.env.values()), self.notes
        )
        result.files = {
            "config.hcl": render_config(result, source),
            ".env.example": env_example(result),
            "IMPORT.md": import_md(result, source),
            **self.files,
        }
        return result

    def _select(self) -> list[TfResource]:
        managed = {
            r.values.get("id") for r in self.document.resources if r.is_sym and r.mode == "managed"
        }
        seen: set[Any] = set()
        chosen = []
        for resource in self.document.resources:
            if not resource.is_sym:
                what = "a data source" if resource.mode == "data" else "a resource"
                self._drop(resource, f"{what} of another provider: symbox keeps only sym_*")
            elif resource.type not in schema.RESOURCES:
                self._drop(resource, f"{resource.type} is not a Sym resource type symbox knows")
            elif resource.mode == "data" and resource.values.get("id") in managed | seen:
                self._drop(resource, "a data source for a resource imported from this state")
            else:
                if resource.mode == "data":
                    self.notes.append(
                        f"{resource.address}: a data source, written as a resource (symbox "
                        "needs the resource itself)"
                    )
                seen.add(resource.values.get("id"))
                chosen.append(resource)
        return sorted(chosen, key=lambda r: (ORDER.index(r.type), r.address))

    def _drop(self, resource: TfResource, reason: str) -> None:
        self.dropped.append(Dropped(resource.address, reason))

    def _secret_origins(
        self, chosen: list[TfResource], keys: Mapping[str, str], ids: Mapping[str, Ref]
    ) -> dict[str, str]:
        origins = {}
        for resource in chosen:
            if resource.type != "sym_secret":
                continue
            settings = resource.values.get("settings") or {}
            text = (
                f"the value of {resource.address} (Sym read secret {resource.values.get('path')!r}"
            )
            if isinstance(settings, dict) and settings.get("json_key"):
                text += f", JSON key {settings['json_key']!r}"
            source = ids.get(str(resource.values.get("source_id")))
            text += f" from {source.address})" if source else ")"
            origins[f"sym_secret.{keys[resource.address]}"] = text
        return origins

    def _code(self, key: str, argument: str, text: str) -> str:
        """Where the code goes in the output folder (the project's own path when it has it)."""
        stripped = text.strip()
        if "\n" not in stripped and stripped.endswith(".py"):
            found = self._project_path(stripped)
            if found is None:
                self._missing_code = (
                    f"{argument}: the state holds the path {stripped!r}, not the code, and "
                    "--project has no such file"
                )
                return stripped
            text = self.project[found]
        else:
            found = next(
                (path for path, body in sorted(self.project.items()) if _same(body, text)), None
            )
        if found is None:
            found = next((path for path, body in self.files.items() if body == text), None)
        if found is None:
            stem = key if argument == "implementation" else f"{key}_{argument}"
            found = f"impls/{stem}.py"
            count = 1
            while found in self.files:
                count += 1
                found = f"impls/{stem}_{count}.py"
        self.files[found] = text
        return found

    def _project_path(self, path: str) -> str | None:
        wanted = path.replace("\\", "/").removeprefix("./")
        for candidate in sorted(self.project):
            if wanted == candidate or wanted.endswith("/" + candidate):
                return candidate
        return None


def _same(left: str, right: str) -> bool:
    return left.replace("\r\n", "\n").strip() == right.replace("\r\n", "\n").strip()


def _unsupported(item: Draft, document: TfDocument) -> str | None:
    kind = item.block.get("type")
    grantable = frozenset().union(
        *(schema.STRATEGY_TARGET_TYPES[name] for name in IMPLEMENTED.strategy_types)
    )
    checks = {
        "sym_target": (grantable, "symbox cannot grant {} targets yet"),
        "sym_strategy": (
            IMPLEMENTED.strategy_types,
            "{} strategies are not implemented in symbox yet",
        ),
        "sym_integration": (schema.INTEGRATION_TYPES, "symbox does not know {} integrations"),
        "sym_log_destination": (
            IMPLEMENTED.log_destination_types,
            "{} log destinations are not implemented in symbox yet",
        ),
        "sym_secrets": (schema.SECRET_SOURCE_TYPES, "symbox does not read {} secret sources"),
    }
    if item.type in IMPLEMENTED.unimplemented_resources:
        return f"{item.type} is not implemented in symbox yet"
    if item.type in checks and kind is not None:
        allowed, message = checks[item.type]
        if kind not in allowed:
            return message.format(kind)
    if (
        item.type == "sym_log_destination"
        and kind == "segment"
        and item.block.get("integration_id") is None
    ):
        return "integration_id is missing: symbox reads the write key from the segment integration"
    for name, arg in schema.RESOURCES[item.type].items():
        if arg.required and item.block.get(name) is None:
            unknown = name in document.unknown.get(item.source.address, ())
            later = " (unknown until terraform apply: import from the state after it)"
            return f"{name} is missing{later if unknown or document.kind == 'plan' else ''}"
    return None


def _refs(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, list | tuple):
        return [ref for item in value for ref in _refs(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, Call):
        return _refs(value.arg)
    return []


def _cascade(drafts: list[Draft]) -> None:
    """A resource needing one that is not imported is not imported either, transitively."""
    by_address = {item.address: item for item in drafts}
    changed = True
    while changed:
        changed = False
        for item in drafts:
            if item.problem is not None:
                continue
            for name in NEEDED.get(item.type, ()):
                missing = [
                    ref.address
                    for ref in _refs(item.block.get(name))
                    if by_address.get(ref.address, item).problem is not None
                ]
                if missing:
                    item.problem = f"{name} refers to {', '.join(missing)}, which is not imported"
                    changed = True
                    break


def _prune(drafts: list[Draft]) -> None:
    """Drop references to resources left out; a flow whose strategy is left out is disabled."""
    bad = {item.address: item.problem for item in drafts if item.problem is not None}
    for item in drafts:
        if item.problem is not None:
            continue
        for part in list(item.block.body):
            if isinstance(part, Block) and part.type == "params":
                _disable(item, part, bad)
            elif isinstance(part, Attr):
                kept = _without(part.value, bad)
                if kept is _DROP:
                    item.block.remove(part.name)
                    item.notes.append(f"dropped {part.name}: it refers to resources not imported")
                elif kept != part.value:
                    part.value = kept
                    item.notes.append(f"{part.name}: references to resources not imported removed")


def _disable(item: Draft, params: Block, bad: Mapping[str, str]) -> None:
    strategy = params.get("strategy_id")
    if not isinstance(strategy, Ref) or strategy.address not in bad:
        return
    index = next(
        i
        for i, part in enumerate(params.body)
        if isinstance(part, Attr) and part.name == "strategy_id"
    )
    params.body[index] = Comment(
        f"strategy_id = {strategy.address}.id  (not imported: {bad[strategy.address]})"
    )
    params.set("allowed_sources", [])
    item.disabled = f"its strategy {strategy.address} is not imported: {bad[strategy.address]}"


def _without(value: Any, bad: Mapping[str, str]) -> Any:
    if isinstance(value, Ref):
        return _DROP if value.address in bad else value
    if isinstance(value, Call):
        # A partial id list would shift which secret is which: drop it whole.
        return _DROP if any(ref.address in bad for ref in _refs(value)) else value
    if isinstance(value, list):
        items = [_without(item, bad) for item in value]
        kept = [item for item in items if item is not _DROP]
        return kept if kept or not value else _DROP
    if isinstance(value, dict):
        pairs = {key: _without(item, bad) for key, item in value.items()}
        kept_map = {key: item for key, item in pairs.items() if item is not _DROP}
        return kept_map if kept_map or not value else _DROP
    return value


def render_config(result: ImportResult, source: str) -> str:
    """config.hcl: every resource, those symbox cannot use commented out with the reason."""
    document = result.document
    lines = [
        f"# Written by symbox import from {source} (Terraform {document.terraform_version} "
        f"{document.kind}).",
        "# IMPORT.md says what was mapped and what was left out; .env.example lists the",
        "# environment variables the env() calls below read.",
    ]
    for item in result.drafts:
        lines.append("")
        text = hclwrite.block(item.block)
        if item.problem is not None:
            lines.append(f"# Not imported ({item.source.address}): {item.problem}.")
            lines.extend(hclwrite.commented(text))
            continue
        if item.disabled is not None:
            lines.append(f"# Disabled (allowed_sources = []): {item.disabled}.")
        lines.extend(text)
    return "\n".join(lines) + "\n"
