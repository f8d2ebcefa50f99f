"""Escape corpus for the event facades: hooks may read `event`, never reach past or change it."""

from __future__ import annotations

import pytest

from symbox.sandbox.errors import HookCompileError, HookError, HookFailure
from symbox.sandbox.pool import HookPool
from tests.sandbox.sources import hook_source

pytestmark = pytest.mark.anyio

FILE = "hooks/impl.py"
EVENT = {
    "name": "request",
    "user": {"email": "alice@x.com", "username": "alice", "role": "member"},
    "payload": {"fields": {"target": {"name": "prod", "settings": {}}}, "timestamp": "x"},
    "flow": {"name": "f", "vars": {"approvers": "a@x.com"}, "environment": {}},
    "run": {"id": "r", "actors": {"request": {"email": "alice@x.com"}}},
    "context": {},
}

# (id, body of `def hook(event):`, expected error class, text the message must contain)
CASES: list[tuple[str, str, type[HookFailure], str]] = [
    ("class_attr", "return event.__class__", HookCompileError, "__class__"),
    ("class_getattr", "return getattr(event, '__class__')", HookError, "__class__"),
    ("user_dict", "return event.user.__dict__", HookCompileError, "__dict__"),
    ("user_dict_getattr", "return getattr(event.user, '__dict__')", HookError, "__dict__"),
    ("private_data", "return event._data", HookCompileError, "_data"),
    ("private_data_getattr", "return getattr(event, '_data')", HookError, "_data"),
    ("private_convert", "return getattr(event.flow.vars, '_convert')", HookError, "_convert"),
    ("bound_self", "return getattr(event.get_actor, '__self__')", HookError, "__self__"),
    ("type_event", "return type(event)", HookError, "NameError"),
    ("vars_setitem", "event.flow.vars['x'] = 1", HookError, "read-only"),
    ("vars_delitem", "del event.flow.vars['approvers']", HookError, "read-only"),
    ("fields_setitem", "event.payload.fields['reason'] = 'x'", HookError, "read-only"),
    ("user_setattr", "event.user.email = 'x'", HookError, "read-only"),
    ("user_setattr_builtin", "setattr(event.user, 'email', 'x')", HookError, "read-only"),
    ("event_setattr", "event.user = None", HookError, "read-only"),
    ("event_delattr", "del event.name", HookError, "read-only"),
    ("target_setattr", "event.payload.fields['target'].name = 'x'", HookError, "read-only"),
    (
        "settings_setitem",
        "event.payload.fields['target'].settings['a'] = 1",
        HookError,
        "read-only",
    ),
    ("actors_setitem", "event.run.actors['request'] = None", HookError, "read-only"),
    ("no_update", "event.flow.vars.update({'x': 1})", HookError, "update"),
    ("return_event", "return event", HookError, "plain data"),
    ("format_walk", "return '{0.user._data}'.format(event)", HookError, "format"),
]


@pytest.mark.parametrize(
    ("body", "expected", "text"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
async def test_event_escape_fails_clearly(
    one_worker: HookPool, body: str, expected: type[HookFailure], text: str
) -> None:
    with pytest.raises(expected) as caught:
        await one_worker.call(
            hook_source(body, "event"), FILE, "hook", [EVENT], timeout=5, wrap_event=True
        )
    message = str(caught.value)
    assert message.startswith(f"{FILE}:"), message
    assert text in message, message


async def test_reading_after_a_failed_write_sees_the_original(one_worker: HookPool) -> None:
    source = (
        "def hook(event):\n"
        "    try:\n"
        "        event.flow.vars['approvers'] = 'eve@x.com'\n"
        "    except TypeError:\n"
        "        pass\n"
        "    return event.flow.vars['approvers']\n"
    )
    assert await one_worker.call(source, FILE, "hook", [EVENT], wrap_event=True) == "a@x.com"


async def test_non_dict_event_is_refused(one_worker: HookPool) -> None:
    with pytest.raises(HookError, match="the event must be a dict"):
        await one_worker.call(
            hook_source("return 1", "event"), FILE, "hook", ["nope"], wrap_event=True
        )


COMPARE = """\
def hook(event):
    seen = []

    class Probe:
        def __eq__(self, other):
            seen.append(other)
            try:
                other["name"] = "changed"
            except Exception:
                pass
            return True

    probe = {}
    for key in event.payload.fields.keys():
        probe[key] = Probe()
    equal = event.payload.fields == probe
    return [equal, len(seen), event.payload.fields["target"].name]
"""


async def test_comparisons_never_hand_event_data_to_hook_code(one_worker: HookPool) -> None:
    result = await one_worker.call(COMPARE, FILE, "hook", [EVENT], wrap_event=True)
    # Hook objects are not event data: they compare unequal, and never see the event's dicts.
    assert result == [False, 0, "prod"]


async def test_plain_comparisons_still_work(one_worker: HookPool) -> None:
    body = (
        "return [event.flow.vars == {'approvers': 'a@x.com'},"
        " event.flow.vars == event.flow.vars, event.flow.vars == {'approvers': 'b'}]"
    )
    result = await one_worker.call(
        hook_source(body, "event"), FILE, "hook", [EVENT], wrap_event=True
    )
    assert result == [True, True, False]


async def test_users_without_email_are_told_apart(one_worker: HookPool) -> None:
    event = {
        **EVENT,
        "user": {"email": None, "username": "bot:ci", "role": "bot"},
        "run": {"id": "r", "actors": {"request": {"email": None, "username": "symbox"}}},
    }
    body = "return [event.user == event.get_actor('request'), event.user == event.user]"
    result = await one_worker.call(
        hook_source(body, "event"), FILE, "hook", [event], wrap_event=True
    )
    assert result == [False, True]
