"""One ``sym_*`` resource of the state as a symbox block, with what symbox changes about it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from symbox.config import schema
from symbox.config.apis import API_STRATEGY_TYPES
from symbox.config.aws import STRATEGY_SETTINGS as AWS_STRATEGY_SETTINGS
from symbox.config.destinations import SETTINGS as DESTINATION_SETTINGS
from symbox.tfimport.hclwrite import Attr, Block, Call, Ref
from symbox.tfimport.state import TfResource
from symbox.tfimport.values import Values, is_empty

# Files written for implementations: (kind of code, text) -> the path to write it to.
Files = Callable[[str, str, str], str]
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
# Arguments holding code that symbox reads with file().
_CODE = ("implementation",)


@dataclass
class Draft:
    """A resource on its way to config.hcl."""

    source: TfResource
    type: str
    key: str
    block: Block
    # Why the resource is written commented out; None when symbox can use it.
    problem: str | None = None
    # Why a flow is carried over disabled.
    disabled: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        """``TYPE.KEY`` in the written config."""
        return f"{self.type}.{self.key}"


def draft(resource: TfResource, key: str, values: Values, files: Files) -> Draft:
    """The block for one resource, before support and references are checked."""
    item = Draft(resource, resource.type, key, Block("resource", (resource.type, key)))
    table = schema.RESOURCES[resource.type]
    for name, arg in table.items():
        raw = resource.values.get(name)
        if is_empty(raw):
            continue
        converted = _argument(item, name, arg, raw, values, files)
        if converted is not None:
            item.block.body.append(Attr(name, converted))
    extra = sorted(
        name
        for name, raw in resource.values.items()
        if name not in table and name not in ("id", "params") and not is_empty(raw)
    )
    for name in extra:
        item.notes.append(f"dropped {name}: symbox has no such argument for {resource.type}")
    if resource.type == "sym_flow":
        _params(item, resource.values.get("params"), values, files)
    _adjust(item, values)
    return item


def _argument(
    item: Draft, name: str, arg: schema.Arg, raw: Any, values: Values, files: Files
) -> Any:
    resource = item.source
    if arg.kind == schema.SETTINGS and isinstance(raw, dict):
        return values.settings(resource.address, item.key, raw, resource.sensitive) or None
    if name in _CODE and isinstance(raw, str):
        return Call("file", files(item.key, name, raw))
    if arg.kind in (schema.REF, schema.REF_LIST, schema.REF_MAP):
        return _refs(item, name, raw, values)
    if arg.kind == schema.STRING_MAP and isinstance(raw, dict):
        kept = {}
        for key, entry in raw.items():
            if resource.sensitive and _marked(resource.sensitive, name, key):
                item.notes.append(
                    f"dropped {name}.{key}: it is sensitive, and {name} cannot hold env()"
                )
            elif not is_empty(entry):
                kept[key] = entry if isinstance(entry, str) else json.dumps(entry)
        return kept or None
    return values.plain(raw)


def _marked(marks: Any, name: str, key: str) -> bool:
    inner = marks.get(name) if isinstance(marks, dict) else None
    return inner is True or (isinstance(inner, dict) and inner.get(key) is True)


def _refs(item: Draft, name: str, raw: Any, values: Values) -> Any:
    def one(entry: Any, where: str) -> Ref | None:
        ref = values.ref(entry)
        if ref is None:
            item.notes.append(
                f"dropped {where}: {entry!r} is not the id of a resource in this state"
            )
        return ref

    if isinstance(raw, list):
        refs = [one(entry, f"{name}[{index}]") for index, entry in enumerate(raw)]
        return [ref for ref in refs if ref is not None] or None
    if isinstance(raw, dict):
        found = {slot: one(entry, f"{name}.{slot}") for slot, entry in raw.items()}
        return {slot: ref for slot, ref in found.items() if ref is not None} or None
    return one(raw, name)


def _params(item: Draft, raw: Any, values: Values, files: Files) -> None:
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if not isinstance(raw, dict):
        return
    params = Block("params")
    for name in schema.PARAMS:
        entry = raw.get(name)
        # An empty allowed_sources is Sym's way to disable a flow: it stays disabled.
        if entry is None or (is_empty(entry) and name != "allowed_sources"):
            continue
        if name == "strategy_id":
            ref = _refs(item, "params.strategy_id", entry, values)
            if ref is not None:
                params.body.append(Attr(name, ref))
        else:
            params.body.append(Attr(name, values.plain(entry)))
    if raw.get("allowed_sources") == []:
        item.disabled = "Sym's state has allowed_sources = [] (the flow was disabled in Sym)"
    fields = raw.get("prompt_field") or []
    if isinstance(raw.get("prompt_fields_json"), str):
        fields = json.loads(raw["prompt_fields_json"])
    for index, field_raw in enumerate(fields):
        if isinstance(field_raw, dict):
            params.body.append(_prompt_field(item, index, field_raw, files))
    known = {*schema.PARAMS, "prompt_field", "prompt_fields_json"}
    for name in sorted(set(raw) - known):
        if not is_empty(raw[name]):
            item.notes.append(f"dropped params.{name}: symbox has no such parameter")
    item.block.body.append(params)


def _prompt_field(item: Draft, index: int, raw: Mapping[str, Any], files: Files) -> Block:
    block = Block("prompt_field")
    field_type = str(raw.get("type", "string"))
    name = str(raw.get("name", index))
    for arg in schema.PROMPT_FIELD:
        entry = raw.get(arg)
        if is_empty(entry):
            continue
        if arg == "on_change" and isinstance(entry, str):
            entry = Call("file", files(f"{item.key}_{name}", "on_change", entry))
        elif arg == "default":
            entry = _typed(field_type, entry)
        elif arg == "allowed_values" and isinstance(entry, list):
            entry = [_typed(field_type.removesuffix("_list"), value) for value in entry]
        block.body.append(Attr(arg, entry))
    for arg in sorted(set(raw) - set(schema.PROMPT_FIELD)):
        if not is_empty(raw[arg]):
            item.notes.append(f"dropped prompt_field {name}: {arg}: symbox has no such argument")
    return block


def _typed(field_type: str, value: Any) -> Any:
    """Sym's provider keeps defaults and choices as strings; symbox wants the field's type."""
    if not isinstance(value, str):
        return value
    if field_type.endswith("_list") and value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return [_typed(field_type.removesuffix("_list"), entry) for entry in parsed]
    if field_type == "int" and _NUMBER.match(value) and "." not in value:
        return int(value)
    if field_type == "bool" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _adjust(item: Draft, values: Values) -> None:
    """What symbox reads differently from Sym for a resource type."""
    kind = item.block.get("type")
    settings = item.block.get("settings")
    if item.type == "sym_integration" and kind == "slack":
        # Sym's hosted Slack app had its own tokens; symbox talks to Slack as your app.
        settings = dict(settings or {})
        for name, what in (
            ("bot_token", "bot token (xoxb-)"),
            ("app_token", "app-level token (xapp-)"),
        ):
            if name not in settings:
                origin = (
                    f"{item.source.address}: new in symbox, your Slack app's {what}; "
                    "see docs/slack.md"
                )
                settings[name] = values.secret(item.key, (name,), origin)
        item.block.set("settings", settings)
    elif item.type == "sym_integration" and kind == "segment":
        # Sym's write_key_secret is already write_key = env() here; without one the operator
        # still has to supply the key, as symbox sends to Segment itself.
        settings = dict(settings or {})
        if "write_key" not in settings:
            origin = f"{item.source.address}: the Segment source's write key"
            settings["write_key"] = values.secret(item.key, ("write_key",), origin)
        item.block.set("settings", settings)
    elif item.type == "sym_integration" and kind == "google":
        # Sym acted through its own service account; symbox acts through one of yours.
        settings = dict(settings or {})
        if "service_account_key" not in settings and "service_account_key_secret" not in settings:
            origin = (
                f"{item.source.address}: new in symbox, your service account's JSON key "
                "(domain-wide delegation); see docs/configuration.md"
            )
            settings["service_account_key"] = values.secret(
                item.key, ("service_account_key",), origin
            )
        if "admin_email" not in settings:
            origin = f"{item.source.address}: the Workspace admin the service account acts as"
            settings["admin_email"] = values.secret(item.key, ("admin_email",), origin)
        item.block.set("settings", settings)
    elif item.type == "sym_strategy" and isinstance(settings, dict):
        allowed: frozenset[str] | None = None
        if kind in AWS_STRATEGY_SETTINGS:
            allowed = AWS_STRATEGY_SETTINGS[kind]
        elif kind in API_STRATEGY_TYPES:
            allowed = frozenset()
        if allowed is not None:
            _keep_settings(item, settings, allowed, f"{kind} strategies")
    elif item.type == "sym_log_destination" and kind in DESTINATION_SETTINGS:
        settings = dict(settings or {})
        for name in ("batch_size", "timeout"):
            if isinstance(settings.get(name), str) and _NUMBER.match(settings[name]):
                settings[name] = json.loads(settings[name])
        if kind in ("http", "datadog") and item.block.get("integration_id") is not None:
            item.block.remove("integration_id")
            item.notes.append(f"dropped integration_id: symbox's {kind} destination takes none")
        if kind == "datadog" and "api_key" not in settings:
            origin = (
                f"{item.source.address}: the Datadog API key (Sym read it through its integration)"
            )
            settings["api_key"] = values.secret(item.key, ("api_key",), origin)
        _keep_settings(item, settings, DESTINATION_SETTINGS[kind], f"{kind} destinations")


def _keep_settings(
    item: Draft, settings: dict[str, Any], allowed: frozenset[str], what: str
) -> None:
    for name in sorted(set(settings) - allowed):
        del settings[name]
        item.notes.append(f"dropped settings.{name}: symbox's {what} have no such setting")
    if settings:
        item.block.set("settings", settings)
    else:
        item.block.remove("settings")
