"""Slack's Block Kit for symbox: the request modal, request messages and their buttons.

Pure functions from config and runs to Slack payloads, and from a submitted modal back to
flow inputs; nothing here talks to Slack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from symbox.config.durations import format_duration
from symbox.config.model import Config, Flow, PromptField
from symbox.engine.forms import FieldState, FormState, Option, has_on_change
from symbox.engine.model import Run
from symbox.slack.break_glass import review_blocks
from symbox.slack.extend_blocks import button, extend_button, extension_blocks
from symbox.slack.status import escape, mention, progress_line, run_status_line

CHOOSE_FLOW = "symbox_choose_flow"
REQUEST_FORM = "symbox_request"
DECISION_FORM = "symbox_decision"
DECISION_MESSAGE = "message"
APPROVE = "symbox_approve"
DENY = "symbox_deny"
REVOKE = "symbox_revoke"
FLOW_SELECT = "flow"
TARGET_FIELD = "target"
# Separates a field's name from the revision in a block id ("ticket~2").
REVISION = "~"
# Slack's limits: 100 options in a select, 3000 characters in a text object.
_MAX_OPTIONS = 100
_MAX_TEXT = 3000


def _text(value: str, kind: str = "plain_text") -> dict[str, Any]:
    return {"type": kind, "text": value[:_MAX_TEXT]}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _text(label[:75]), "value": value[:150]}


def slack_flows(config: Config) -> list[Flow]:
    """The flows that accept requests from Slack, by name."""
    flows = [flow for flow in config.flows.values() if "slack" in flow.params.allowed_sources]
    return sorted(flows, key=lambda flow: flow.name)


def flow_chooser(config: Config) -> dict[str, Any]:
    """The modal `/sym` opens: pick one of the flows that accept Slack requests."""
    options = [_option(flow.label or flow.name, flow.name) for flow in slack_flows(config)]
    return {
        "type": "modal",
        "callback_id": CHOOSE_FLOW,
        "title": _text("Request access"),
        "submit": _text("Next"),
        "close": _text("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": FLOW_SELECT,
                "label": _text("Flow"),
                "element": {
                    "type": "static_select",
                    "action_id": FLOW_SELECT,
                    "options": options[:_MAX_OPTIONS],
                },
            }
        ],
    }


def request_form(
    config: Config,
    flow: Flow,
    state: FormState | None = None,
    revisions: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The flow's request modal, from its prompt fields as ``state`` (hooks) shapes them.

    A field whose value a hook changed gets a new block id (``revisions``): Slack keeps
    what was typed into a block it knows and shows an initial value only in a new one.
    """
    blocks: list[dict[str, Any]] = []
    if flow.params.additional_header_text:
        blocks.append(
            {"type": "section", "text": _text(flow.params.additional_header_text, "mrkdwn")}
        )
    targets = _targets(config, flow)
    if targets:
        blocks.append(
            _input(TARGET_FIELD, "Target", _select(TARGET_FIELD, targets, None), optional=False)
        )
    changes = has_on_change(flow)
    for field in flow.params.prompt_fields:
        shaped = state.field(field.name) if state is not None else None
        visible = shaped.visible if shaped is not None else field.visible
        if field.name in ("target", "target_id") or not visible:
            continue
        block = _field_block(field, shaped)
        revision = (revisions or {}).get(field.name, 0)
        if revision:
            block["block_id"] = f"{field.name}{REVISION}{revision}"
        if changes:
            # Slack sends a block_actions event when a value changes; the form is rebuilt
            # from all values then (an on_change may read any field).
            block["dispatch_action"] = True
        blocks.append(block)
    return {
        "type": "modal",
        "callback_id": REQUEST_FORM,
        "private_metadata": flow.name,
        "title": _text((flow.label or flow.name)[:24]),
        "submit": _text("Request"),
        "close": _text("Cancel"),
        "blocks": blocks,
    }


def _targets(config: Config, flow: Flow) -> list[tuple[str, str]]:
    if flow.params.strategy is None:
        return []
    strategy = config.strategies[flow.params.strategy]
    return [
        (config.targets[key].label or config.targets[key].name, config.targets[key].name)
        for key in strategy.targets
    ]


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "optional": optional,
        "element": element,
    }


def _select(action_id: str, choices: Sequence[tuple[str, str]], initial: str | None) -> Any:
    options = [_option(label, value) for label, value in choices][:_MAX_OPTIONS]
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "options": options}
    chosen = [option for option in options if option["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def _shown(field: PromptField, value: Any) -> str:
    if field.type == "duration" and isinstance(value, int):
        return format_duration(value)
    if isinstance(value, list | tuple):
        # As typed into a list field: comma-separated.
        return ", ".join(str(item) for item in value)
    return str(value)


def _field_block(field: PromptField, shaped: FieldState | None = None) -> dict[str, Any]:
    label = (shaped.label if shaped else None) or field.label
    label = label or field.name.replace("_", " ").capitalize()
    name = field.name
    default = shaped.value if shaped is not None else field.default
    required = shaped.required if shaped is not None else field.required
    element: dict[str, Any]
    narrowed_to_nothing = shaped is not None and shaped.current == () and not field.prefetch
    if field.prefetch or narrowed_to_nothing:
        # Slack refuses a static select without options; an external one asks, and gets none.
        element = _external_select(field, shaped)
    elif field.allowed_values is not None and field.type not in ("str_list", "int_list"):
        offered = shaped.current if shaped is not None else None
        values = (
            [option.value for option in offered] if offered is not None else field.allowed_values
        )
        choices = [(_shown(field, value), _shown(field, value)) for value in values]
        initial = None if default is None else _shown(field, default)
        element = _select(name, choices, initial)
    elif field.type == "bool":
        element = {
            "type": "checkboxes",
            "action_id": name,
            "options": [_option("Yes", "true")],
        }
        if default is True:
            element["initial_options"] = [_option("Yes", "true")]
    elif field.type == "int":
        element = {"type": "number_input", "action_id": name, "is_decimal_allowed": False}
        if default is not None:
            element["initial_value"] = str(default)
    elif field.type == "slack_user":
        element = {"type": "users_select", "action_id": name}
        if isinstance(default, str) and default:
            element["initial_user"] = default
    elif field.type == "slack_user_list":
        element = {"type": "multi_users_select", "action_id": name}
        if isinstance(default, list | tuple) and default:
            element["initial_users"] = [str(item) for item in default]
    else:
        element = {
            "type": "plain_text_input",
            "action_id": name,
            "multiline": name == "reason",
        }
        if default is not None:
            element["initial_value"] = _shown(field, default)
        if field.type == "duration":
            element["placeholder"] = _text("30m, 1h, 2d")
        elif field.type in ("str_list", "int_list"):
            element["placeholder"] = _text("comma-separated")
    # A field with a default can be left empty: the default applies.
    optional = not required or field.type == "bool" or field.default is not None
    return _input(name, label, element, optional=optional)


def _external_select(field: PromptField, shaped: FieldState | None) -> dict[str, Any]:
    """A drop-down whose options Slack asks for as the requester types (prefetched)."""
    many = field.type in ("str_list", "int_list")
    element: dict[str, Any] = {
        "type": "multi_external_select" if many else "external_select",
        "action_id": field.name,
        "min_query_length": 0,
    }
    value = shaped.value if shaped is not None else field.default
    options = (
        {str(option.value): option.label for option in (shaped.original or ())}
        if (shaped is not None)
        else {}
    )
    chosen = [value] if not many else list(value) if isinstance(value, list) else []
    initial = [
        _option(options.get(str(item), str(item)), str(item)) for item in chosen if item is not None
    ]
    if initial:
        element["initial_options" if many else "initial_option"] = initial if many else initial[0]
    return element


def suggestions(options: Sequence[Option], query: str) -> dict[str, Any]:
    """A block_suggestion answer: the options whose label contains ``query``, at most 100."""
    wanted = query.strip().lower()
    matching = [option for option in options if wanted in option.label.lower()]
    return {
        "options": [_option(option.label, str(option.value)) for option in matching][:_MAX_OPTIONS]
    }


def field_name(block_id: str) -> str:
    """The prompt field a (possibly revised) block id belongs to."""
    return block_id.split(REVISION, 1)[0]


def form_inputs(flow: Flow, state: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a submitted modal's ``view.state.values`` into the flow's inputs."""
    inputs: dict[str, Any] = {}
    fields = {field.name: field for field in flow.params.prompt_fields}
    for block_id, actions in state.items():
        if not isinstance(actions, Mapping):
            continue
        for action in actions.values():
            if not isinstance(action, Mapping):
                continue
            value = _element_value(action)
            name = field_name(str(block_id))
            field = fields.get(name)
            if name == TARGET_FIELD:
                inputs["target"] = value
            elif field is not None:
                converted = _convert(field, value)
                if converted is not None:
                    inputs[name] = converted
    return inputs


def unchanged_state(view: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``state.values`` Slack submits for ``view`` if nobody changes anything."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or ():
        element = block.get("element") if block.get("type") == "input" else None
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        action: dict[str, Any] = {"type": kind}
        if kind in ("static_select", "external_select"):
            action["selected_option"] = element.get("initial_option")
        elif kind in ("multi_external_select", "checkboxes"):
            action["selected_options"] = element.get("initial_options") or []
        elif kind == "users_select":
            action["selected_user"] = element.get("initial_user")
        elif kind == "multi_users_select":
            action["selected_users"] = element.get("initial_users") or []
        else:
            action["value"] = element.get("initial_value")
        values[str(block.get("block_id"))] = {str(element.get("action_id")): action}
    return values


def _element_value(action: Mapping[str, Any]) -> Any:
    kind = action.get("type")
    if kind == "multi_external_select":
        chosen = action.get("selected_options")
        return [item.get("value") for item in chosen or () if isinstance(item, Mapping)] or None
    if kind in ("static_select", "external_select"):
        selected = action.get("selected_option")
        return selected.get("value") if isinstance(selected, Mapping) else None
    if kind == "checkboxes":
        selected = action.get("selected_options")
        return bool(selected)
    if kind == "users_select":
        return action.get("selected_user")
    if kind == "multi_users_select":
        return action.get("selected_users")
    return action.get("value")


def _convert(field: PromptField, value: Any) -> Any:
    if value is None or value == "":
        return False if field.type == "bool" else None
    if field.type == "int_list" and isinstance(value, list):
        return [_to_int(item) if isinstance(item, str) else item for item in value]
    if field.type in ("int", "int_list") and isinstance(value, str):
        if field.type == "int_list":
            return [_to_int(item) for item in value.split(",") if item.strip()]
        return _to_int(value)
    if field.type == "str_list" and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if field.type == "bool" and isinstance(value, str):
        return value == "true"
    return value


def _to_int(text: str) -> int | str:
    # A value that is not a number stays text, so validation names the field's problem.
    try:
        return int(text.strip())
    except ValueError:
        return text


def shown_blocks(view: Mapping[str, Any]) -> dict[str, str] | None:
    """The block id each field has in a submitted view (``ticket~2`` after a redraw).

    None when the payload lists no blocks: then a field's block id is its name.
    """
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return None
    found: dict[str, str] = {}
    for block in blocks:
        block_id = block.get("block_id") if isinstance(block, Mapping) else None
        if isinstance(block_id, str):
            found[field_name(block_id)] = block_id
    return found


def field_errors(
    problems: Sequence[str], flow: Flow, block_ids: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map validation problems (``"field: message"``) to the modal blocks they belong to.

    A problem with a field the view does not show (hidden) has no block to appear next to.
    """
    blocks = {field.name for field in flow.params.prompt_fields} | {TARGET_FIELD}
    errors: dict[str, str] = {}
    for problem in problems:
        name, _, message = problem.partition(": ")
        block = TARGET_FIELD if name in ("target", "target_id") else name
        if block not in blocks:
            continue
        block_id = block if block_ids is None else block_ids.get(block)
        if block_id is not None:
            errors.setdefault(block_id, message[:150])
    return errors


def decision_form(run: Run, flow: Flow, approve: bool) -> dict[str, Any]:
    """The modal an approver fills when the flow asks for a decision message."""
    verb = "Approve" if approve else "Deny"
    metadata = json.dumps({"run_id": run.id, "approve": approve})
    return {
        "type": "modal",
        "callback_id": DECISION_FORM,
        "private_metadata": metadata,
        "title": _text(f"{verb} request"),
        "submit": _text(verb),
        "close": _text("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": _text(f"{verb} {run.requester}'s {flow.label or flow.name} request?"),
            },
            {
                "type": "input",
                "block_id": DECISION_MESSAGE,
                "optional": True,
                "label": _text("Message"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": DECISION_MESSAGE,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
    }


def decision_submitted(view: Mapping[str, Any]) -> tuple[str, bool, str | None] | None:
    """The run id, the decision and the message from a submitted decision modal."""
    try:
        metadata = json.loads(str(view.get("private_metadata")))
    except ValueError:
        return None
    if not isinstance(metadata, dict):
        return None
    run_id, approve = metadata.get("run_id"), metadata.get("approve")
    if not isinstance(run_id, str) or not isinstance(approve, bool):
        return None
    state = view.get("state", {}).get("values", {})
    message = state.get(DECISION_MESSAGE, {}).get(DECISION_MESSAGE, {}).get("value")
    return (
        run_id,
        approve,
        message.strip() if isinstance(message, str) and message.strip() else None,
    )


def request_message(
    run: Run, flow: Flow, target_label: str | None, slack_ids: Mapping[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """The message posted where the request goes: fallback text and blocks with buttons."""
    requester = mention(run.requester, slack_ids)
    summary = f"{requester} requests *{flow.label or flow.name}*"
    lines = [summary]
    if target_label:
        lines.append(f"*Target:* {target_label}")
    duration = run.duration
    if duration is not None:
        lines.append(f"*Duration:* {format_duration(duration)}")
    for name, value in run.fields.items():
        if name in ("target", "duration"):
            continue
        # Requesters type these: escaped, a reason cannot ping a channel or fake a link.
        lines.append(f"*{name.replace('_', ' ').capitalize()}:* {escape(str(value))}")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _text("\n".join(lines), "mrkdwn")}]
    status = run_status_line(run, slack_ids)
    if status is None:
        if run.approvals:
            # Some of several approvals are in: say so, and keep the buttons for the rest.
            blocks.append(
                {"type": "context", "elements": [_text(progress_line(run, slack_ids), "mrkdwn")]}
            )
        blocks.append(
            {
                "type": "actions",
                "block_id": "decision",
                "elements": [
                    button("Approve", APPROVE, run.id, "primary"),
                    button("Deny", DENY, run.id, "danger"),
                ],
            }
        )
    else:
        blocks.append({"type": "context", "elements": [_text(status, "mrkdwn")]})
        blocks.extend(review_blocks(run, escape))
        blocks.extend(extension_blocks(run, escape))
        buttons = access_buttons(run, flow)
        if buttons:
            blocks.append({"type": "actions", "block_id": "revoke", "elements": buttons})
    text = f"{run.requester} requests {flow.name}" + (f" ({target_label})" if target_label else "")
    return text, blocks


def access_buttons(run: Run, flow: Flow) -> list[dict[str, Any]]:
    """An escalated run's Extend (when it has an expiry) and Revoke (``allow_revoke``)."""
    if run.status.value != "escalated":
        return []
    extend = extend_button(run)
    revoke = button("Revoke", REVOKE, run.id, "danger") if flow.params.allow_revoke else None
    return [element for element in (revoke, extend) if element is not None]
