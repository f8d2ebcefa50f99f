"""`sym.sdk` names symbox lacks: they import, and fail naming themselves only when used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from symbox.sandbox.errors import HookError
from symbox.sandbox.hooks import HookRunner, NotificationSpec
from symbox.sandbox.policy import HookPolicy
from symbox.sandbox.pool import HookPool
from symbox.sandbox.sdk.event import make_event
from symbox.sandbox.worker import worker_modules
from tests.api.test_hooks import hooked_config
from tests.harness import harness
from tests.sandbox.sources import hook_source

FILE = "hooks/impl.py"
EVENT = {"name": "request", "user": {"email": "carol@example.com", "username": "carol"}}


def run(body: str) -> Any:
    """Run ``body`` in-process under the worker's policy."""
    source = hook_source(body, "event")
    return HookPolicy(modules=worker_modules()).call(source, FILE, "hook", [make_event(EVENT)])


@pytest.mark.parametrize(
    "body",
    [
        "from sym.sdk.templates import get_step_output, Template\nreturn 1",
        "from sym.sdk.user import User, UserIdentity, persist_user_identity, user_ids\nreturn 1",
        "from sym.sdk.utils.user import persist_user_identity\nreturn 1",
        "from sym.sdk.integrations import knowbe4, okta\nreturn 1",
        "import sym.sdk.user\nimport sym.sdk.integrations.knowbe4\nreturn 1",
        "from sym.sdk import user, templates\nreturn 1",
        "from sym.sdk.exceptions.okta import OktaError\nreturn 1",
    ],
)
def test_missing_names_and_modules_import(body: str) -> None:
    assert run(body) == 1


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (
            "from sym.sdk.templates import Template\nreturn Template()",
            "sym.sdk.templates.Template",
        ),
        (
            "from sym.sdk.user import User\nreturn event.user.email == User.email",
            "sym.sdk.user.User.email",
        ),
        (
            "from sym.sdk.user import persist_user_identity\n"
            "return persist_user_identity(email='a@x', service='okta', service_id='d',"
            " user_id='u')",
            "sym.sdk.user.persist_user_identity",
        ),
        ("from sym.sdk.user import user_ids\nreturn user_ids([])", "sym.sdk.user.user_ids"),
        (
            "from sym.sdk.integrations import onelogin\n"
            "return onelogin.is_user_in_group(event.user, group_id='1')",
            "sym.sdk.integrations.onelogin.is_user_in_group",
        ),
        (
            "import sym.sdk.integrations.boundary\n"
            "return sym.sdk.integrations.boundary.list_accounts()",
            "sym.sdk.integrations.boundary.list_accounts",
        ),
        ("from sym.sdk.flow import Flow\nreturn Flow.name", "sym.sdk.flow.Flow.name"),
        # Functions of implemented integrations that symbox lacks, too.
        (
            "from sym.sdk.integrations import okta\nreturn okta.list_groups(name_filter='a')",
            "sym.sdk.integrations.okta.list_groups",
        ),
        (
            "import sym.sdk.integrations.aws_iam\n"
            "return sym.sdk.integrations.aws_iam.users_in_group(group_name='a')",
            "sym.sdk.integrations.aws_iam.users_in_group",
        ),
        ("from sym.sdk.user import User\nreturn User['x']", "sym.sdk.user.User"),
        (
            "from sym.sdk.user import User\nreturn [u for u in User]",
            "sym.sdk.user.User",
        ),
        (
            "from sym.sdk.strategies import AccessStrategy, Flavour\n"
            "class Mine(Flavour):\n    pass\nreturn 1",
            "sym.sdk.strategies.Flavour",
        ),
        # Read-only: a placeholder cannot be made into something else.
        ("from sym.sdk.user import User\nUser.email = 'x'\nreturn 1", "sym.sdk.user.User"),
        # Not a way to reach what the module keeps private.
        (
            "from sym.sdk.exceptions import os\nreturn os.system('id')",
            "sym.sdk.exceptions.os.system",
        ),
    ],
)
def test_using_a_missing_name_fails_naming_it(body: str, name: str) -> None:
    with pytest.raises(HookError) as caught:
        run(body)
    assert caught.value.type_name == "UnsupportedError"
    assert f"{name} is not supported by symbox yet" in str(caught.value)
    assert caught.value.line is not None


def test_an_integration_imports_as_a_module_too() -> None:
    got = run(
        "from sym.sdk.integrations.slack import channel\n"
        "import sym.sdk.integrations.slack\n"
        "return [channel('#ops'), sym.sdk.integrations.slack.channel('#dev')['channel']]"
    )
    assert got == [{"type": "slack_channel", "channel": "#ops", "allow_self": False}, "#dev"]


def test_a_missing_error_class_is_a_sym_exception_that_except_can_name() -> None:
    # `except` clauses are evaluated only when something is raised: a placeholder there
    # would replace the hook's real error with a TypeError.
    got = run(
        "from sym.sdk.exceptions import OneLoginError, SymException\n"
        "from sym.sdk.integrations import onelogin\n"
        "try:\n"
        "    raise OneLoginError('no such group')\n"
        "except OneLoginError as error:\n"
        "    caught = [str(error), isinstance(error, SymException)]\n"
        "try:\n"
        "    onelogin.is_user_in_group(event.user, group_id='1')\n"
        "except OneLoginError:\n"
        "    return 'wrongly caught'\n"
        "except SymException as error:\n"
        "    return caught + [error.error_type]"
    )
    assert got == ["no such group", True, "UnsupportedError"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("import sym.other\nreturn 1", "import of 'sym.other' is not allowed in hooks"),
        ("import symbox.sandbox\nreturn 1", "import of 'symbox.sandbox' is not allowed"),
        # `from` imports read attributes without the guards: only modules are importable.
        ("from string.ascii_letters import join\nreturn 1", "import of 'string.ascii_letters'"),
        (
            "from sym.sdk.exceptions.SymException import mro\nreturn mro()",
            "sym.sdk.exceptions.SymException.mro is not supported",
        ),
        ("from requests import nothing\nreturn 1", "cannot import name 'nothing'"),
        (
            "import sym.sdk.user\nreturn getattr(sym.sdk.user, '_' + 'sandbox_name_')",
            "invalid attribute name",
        ),
    ],
)
def test_only_sym_sdk_is_open(body: str, text: str) -> None:
    with pytest.raises(HookError, match=text):
        run(body)


@pytest.fixture
async def pool() -> AsyncIterator[HookPool]:
    async with HookPool(size=1, default_timeout=5.0) as running:
        yield running


# A flow that saves identities as Sym's examples do: every hook of the file imports
# persist_user_identity, though only after_escalate uses it.
LAMBDA_FLOW = """\
from sym.sdk.annotations import hook, reducer
from sym.sdk.integrations import slack
from sym.sdk.notifications import Notification
from sym.sdk.templates import ApprovalTemplate
from sym.sdk.user import persist_user_identity


@reducer
def get_request_notifications(event):
    return [Notification(destinations=[slack.channel("#db-access")])]


@hook
def on_request(event):
    if event.payload.fields["duration"] <= 60:
        return ApprovalTemplate.approve(reason="short grants are pre-approved")


@hook
def after_escalate(event):
    persist_user_identity(
        email=event.user.email, service="okta", service_id="acme", user_id="00u1"
    )


def returns_placeholder(event):
    return persist_user_identity
"""


@pytest.mark.anyio
async def test_the_rest_of_the_file_runs_in_a_real_worker(pool: HookPool) -> None:
    runner = HookRunner(pool)
    event = {"name": "request", "user": {"email": "carol@example.com"}}
    specs = await runner.reduce_notifications(LAMBDA_FLOW, FILE, event)
    assert specs is not None and isinstance(specs[0], NotificationSpec)
    destination = specs[0].destinations[0]
    assert not isinstance(destination, str) and destination["channel"] == "#db-access"
    with pytest.raises(HookError) as caught:
        await runner.run_hook(LAMBDA_FLOW, FILE, "escalate", "after", event)
    assert str(caught.value) == (
        "hooks/impl.py:21: UnsupportedError: sym.sdk.user.persist_user_identity is not "
        "supported by symbox yet"
    )
    # A placeholder is not data a hook can hand back to the host.
    with pytest.raises(HookError, match="hooks must return plain data"):
        await pool.call(LAMBDA_FLOW, FILE, "returns_placeholder", [event], wrap_event=True)


@pytest.mark.anyio
async def test_a_flow_using_a_missing_name_records_a_hook_error_naming_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "impl.py").write_text(LAMBDA_FLOW)
    async with harness(tmp_path, config_text=hooked_config) as h:
        # Before: the import failed, and with it on_request, so the request errored.
        run_id = await h.request(duration="1m")
        await h.wait_status(run_id, "escalated")

        async def recorded() -> bool:
            return len((await h.run(run_id))["errors"]) == 1

        await h.wait_for(recorded, "the after_escalate hook error")
        run = await h.run(run_id)
        assert run["decisions"][0]["reason"] == "short grants are pre-approved"
        names = [event["name"] for event in run["events"]]
        assert names[-1] == "hook_error"
        assert run["events"][-1]["details"]["hook"] == "after_escalate"
        [error] = run["errors"]
        assert "impl.py:21:" in error
        assert "sym.sdk.user.persist_user_identity is not supported by symbox yet" in error
        assert h.receiver.state.granted == {("prod-db", "carol@example.com")}


def test_user_identity_fails_naming_itself() -> None:
    from symbox.sandbox.sdk.event import make_event
    from symbox.sandbox.sdk.exceptions import UnsupportedError

    event = make_event({"user": {"email": "ann@example.com", "username": "ann@example.com"}})
    assert event.user is not None
    with pytest.raises(UnsupportedError, match=r"sym\.sdk User\.identity is not supported"):
        event.user.identity("okta", "acme.okta.com")
