"""The `sym.sdk` facade in-process under the worker's policy: names, values and placeholders."""

from __future__ import annotations

from typing import Any

import pytest

from symbox.sandbox.errors import HookError
from symbox.sandbox.policy import HookPolicy
from symbox.sandbox.sdk.event import make_event
from symbox.sandbox.worker import worker_modules
from tests.sandbox.sources import hook_source

FILE = "hooks/impl.py"
EVENT = {
    "name": "request",
    "user": {"email": "alice@x.com", "username": "alice", "role": "member"},
    "run": {"actors": {"request": {"email": "bob@x.com", "username": "bob"}}},
}


def run(body: str) -> Any:
    source = hook_source(body, "event")
    return HookPolicy(modules=worker_modules()).call(source, FILE, "hook", [make_event(EVENT)])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Sibling packages both reachable through `import sym...` (one stand-in per package).
        (
            "import sym.sdk.templates\nimport sym.sdk.annotations\n"
            "return sym.sdk.templates.ApprovalTemplate.deny(reason='no')",
            {"__sym_template__": "deny", "message": "no"},
        ),
        (
            "from sym.sdk import templates\nreturn templates.ApprovalTemplate.approve()",
            {"__sym_template__": "approve", "message": None},
        ),
        (
            "from sym.sdk.annotations import hook, reducer, prefetch\n"
            "def f():\n    return 1\n"
            "return [hook(f) is f, reducer(f) is f, prefetch(field_name='x')(f) is f]",
            [True, True, True],
        ),
        (
            "from sym.sdk.request_permission import PermissionLevel, RequestPermission\n"
            "return RequestPermission(PermissionLevel.ALL_USERS, "
            "[event.user, event.get_actor('request'), 'c@x.com'])",
            {
                "__sym_permission__": {
                    "webapp_view": "ALL_USERS",
                    "approve_deny": ["alice@x.com", "bob@x.com", "c@x.com"],
                    "allow_self_approval": False,
                }
            },
        ),
        (
            "import datetime\nfrom sym.sdk.notifications import Notification\n"
            "return Notification(destinations=[event.user], timeout=datetime.timedelta(minutes=5))",
            {"__sym_notification__": {"destinations": ["alice@x.com"], "timeout": 300.0}},
        ),
        (
            "from sym.sdk.exceptions import OktaError, SymException\n"
            "try:\n    raise OktaError('down')\nexcept SymException as e:\n"
            "    return [e.message, e.error_type, str(e)]",
            ["down", "OktaError", "down"],
        ),
        (
            "from sym.sdk.request_permission import PermissionLevel\n"
            "return [PermissionLevel.ADMIN.name, PermissionLevel.MEMBER.value]",
            ["ADMIN", "member"],
        ),
        ("import sym.sdk.forms\nreturn 1", 1),
        (
            "from sym.sdk.forms import FieldOption, FieldType\n"
            "from sym.sdk.field_option import FieldOption as Older\n"
            "o = FieldOption(value=5, label='Five')\n"
            "return [o.value, o.label, o == Older(value=5, label='Five'), FieldType.STR_LIST]",
            [5, "Five", True, "str_list"],
        ),
        # Custom strategies subclass AccessStrategy; the integration is what the host passes.
        (
            "from sym.sdk.strategies import AccessStrategy\n"
            "class Mine(AccessStrategy):\n"
            "    def fetch_remote_identity(self, user):\n        return user.username\n"
            "strategy = Mine(None)\n"
            "return [strategy.get_requester_identity(event), strategy.integration]",
            ["bob", None],
        ),
        (
            "import requests\nfrom requests.exceptions import RequestException\n"
            "return [issubclass(requests.HTTPError, RequestException), "
            "requests.exceptions.Timeout is requests.Timeout]",
            [True, True],
        ),
    ],
)
def test_sdk_values(body: str, expected: Any) -> None:
    assert run(body) == expected


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (
            "from sym.sdk.forms import FieldOption\nreturn FieldOption(value='x' * 56, label='x')",
            "SymException: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx exceeds the max"
            " length of 55 characters.",
        ),
        (
            "from sym.sdk.forms import FieldOption\nreturn FieldOption(value=None, label='x')",
            "SymException: FieldOption(value=...) must be non-empty",
        ),
        (
            "from sym.sdk.forms import FieldOption\nreturn FieldOption(value='a', label='')",
            "SymException: FieldOption(label=...) takes a non-empty str",
        ),
        (
            "from sym.sdk.forms import FieldOption\nreturn FieldOption('a', 'b')",
            "TypeError",
        ),
        (
            "from sym.sdk.forms import FieldOption\no = FieldOption(value='a', label='b')\n"
            "o.value = 'c'\nreturn o",
            "attribute-less object",
        ),
        (
            "from sym.sdk.forms import SymPromptForm\n"
            "class Sneaky:\n    def keys(self):\n        return ['a']\n"
            "return SymPromptForm({'flow_vars': Sneaky()})",
            "SymException: a SymPromptForm's flow_vars must be a dict",
        ),
        (
            "from sym.sdk.forms import SymPromptForm\n"
            "form = SymPromptForm({'fields': [{'name': 'a', 'type': 'string'}]})\n"
            "form.fields['a'].name = 'b'",
            "SymException: PromptField.name cannot be changed",
        ),
        (
            "from sym.sdk.forms import SymPromptForm\n"
            "form = SymPromptForm({'fields': [{'name': 'a', 'type': 'string'}]})\n"
            "form.fields['a'].visible = 'no'",
            "SymException: PromptField.visible takes True or False",
        ),
        (
            "from sym.sdk.forms import SymPromptForm\n"
            "form = SymPromptForm({'fields': [{'name': 'a', 'type': 'string'}]})\n"
            "form.fields['a'].current_allowed_values = ['x']",
            "SymException: PromptField.current_allowed_values takes a list of FieldOption",
        ),
        (
            "from sym.sdk.strategies import AccessStrategy\n"
            "class Mine(AccessStrategy):\n    pass\nreturn Mine(None).escalate('db', event)",
            "AccessStrategyError: Mine does not implement escalate",
        ),
        (
            "from sym.sdk.strategies import AccessStrategy\n"
            "class Mine(AccessStrategy):\n"
            "    def fetch_remote_identity(self, user):\n        return None\n"
            "return Mine(None).get_requester_identity(event)",
            "IdentityError: no identity for bob@x.com",
        ),
        (
            "from sym.sdk.strategies import AccessStrategy\n"
            "class Mine(AccessStrategy):\n"
            "    def fetch_remote_identity(self, user):\n        return 42\n"
            "return Mine(None).get_requester_identity(event)",
            "fetch_remote_identity returned int; expected a str",
        ),
        (
            "import requests\nreturn requests.get('https://api.example.com')",
            "HTTPError: http is not available outside a hook worker",
        ),
        (
            "import requests\nreturn requests.get('https://api.example.com', verify=False)",
            "HTTPRefusedError: verify= cannot turn TLS verification off",
        ),
        (
            "import requests\nreturn requests.post('https://api.example.com', json={1: 2})",
            "json= keys must be a str, got int",
        ),
        (
            "import requests\nreturn requests.request('TRACE', 'https://api.example.com')",
            "method TRACE is not supported",
        ),
        (
            "from sym.sdk.request_permission import RequestPermission\n"
            "return RequestPermission('ADMIN', 'ADMIN')",
            "takes a PermissionLevel or a list of users",
        ),
        (
            "from sym.sdk.request_permission import PermissionLevel, RequestPermission\n"
            "return RequestPermission(PermissionLevel.ADMIN, [1])",
            "list items must be emails or users",
        ),
        (
            "from sym.sdk.notifications import Notification\n"
            "return Notification(destinations='#chan')",
            "takes a list of destinations",
        ),
        (
            "from sym.sdk.notifications import Notification\nreturn Notification(destinations=[3])",
            "must be a channel, email or user",
        ),
        (
            "from sym.sdk.notifications import Notification\n"
            "return Notification(destinations=['#a'], timeout='soon')",
            "takes seconds or a timedelta",
        ),
        (
            "from sym.sdk.templates import ApprovalTemplate\n"
            "return ApprovalTemplate.ignore(message=3)",
            "ApprovalTemplate.ignore takes a str",
        ),
        # A missing name imports as a placeholder, never as what the module itself imports.
        (
            "from sym.sdk.exceptions import os\nreturn os.getcwd()",
            "sym.sdk.exceptions.os.getcwd is not supported by symbox yet",
        ),
        (
            "from sym.sdk.integrations import jira\nreturn jira.create_issue()",
            "sym.sdk.integrations.jira.create_issue is not supported by symbox yet",
        ),
        (
            "from sym.sdk.integrations import github\n"
            "return github.get_repo_collaborators(repo_name='api', roles={'admin'})",
            "GitHubError: github is not available outside a hook worker",
        ),
        (
            "from sym.sdk.integrations import slack\nreturn slack.channel('')",
            "slack.channel() needs a channel name or id",
        ),
        (
            "from sym.sdk.integrations import slack\nreturn slack.send_message('#a', 'hi')",
            "slack is not available outside a hook worker",
        ),
        (
            "from sym.sdk.integrations import pagerduty\nreturn pagerduty.is_on_call('a@x')",
            "not available outside a hook worker",
        ),
    ],
)
def test_sdk_misuse_fails_clearly(body: str, text: str) -> None:
    with pytest.raises(HookError) as caught:
        run(body)
    assert text in str(caught.value)
    assert caught.value.line is not None
