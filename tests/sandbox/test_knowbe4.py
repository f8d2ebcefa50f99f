"""sym.sdk.integrations.knowbe4 in hooks: worker to host to a fake KnowBe4 Reporting API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from symbox.sandbox.errors import HookError
from symbox.sandbox.integrations import Integrations
from symbox.sandbox.integrations.knowbe4 import KnowBe4Client
from symbox.sandbox.pool import HookPool
from tests.api.test_hooks import hooked_config
from tests.fakes.knowbe4 import KNOWBE4_TOKEN, FakeKnowBe4
from tests.harness import harness
from tests.sandbox.test_integrations import FILE, event_for

pytestmark = pytest.mark.anyio

HOOKS = """\
from sym.sdk.exceptions import KnowBe4Error
from sym.sdk.integrations import knowbe4
from sym.sdk.templates import ApprovalTemplate


def on_request(event):
    enrollments = knowbe4.get_training_enrollments_for_user(event.user, store_purchase_id=7)
    if any(item["status"] != "Passed" for item in enrollments):
        return ApprovalTemplate.deny(reason="security training is not done")
    if knowbe4.is_user_in_group(event.user, 42):
        return ApprovalTemplate.approve(reason="trained and in the trusted group")


def modules(event):
    return [item["module_name"] for item in knowbe4.get_training_enrollments_for_user(event.user)]


def by_campaign(event):
    found = knowbe4.get_training_enrollments_for_user(event.user, campaign_id=2)
    return [[item["module_name"], item["user"]["email"]] for item in found]


def member(event):
    return knowbe4.is_user_in_group(event.user, int(event.flow.vars["group"]))


def failure(event):
    try:
        knowbe4.get_training_enrollments_for_user(event.user)
    except KnowBe4Error as error:
        return str(error)


def bad_group(event):
    return knowbe4.is_user_in_group(event.user, "42")
"""


@pytest.fixture
def fake() -> Iterator[FakeKnowBe4]:
    with FakeKnowBe4() as running:
        carol = running.add_user("carol@x.com")
        dave = running.add_user("dave@x.com")
        running.groups[42] = [carol]
        running.groups[43] = []
        running.enroll(carol, "Phishing 101", "Passed", purchase=7, campaign=1)
        running.enroll(carol, "Passwords", "In Progress", purchase=8, campaign=2)
        running.enroll(dave, "Phishing 101", "Not Started", purchase=7, campaign=1)
        yield running


@pytest.fixture
async def pool(fake: FakeKnowBe4) -> AsyncIterator[HookPool]:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        provider = Integrations(knowbe4=KnowBe4Client(fake.url, KNOWBE4_TOKEN, client))
        async with HookPool(size=1, default_timeout=5.0, integrations=provider) as running:
            yield running


async def call(pool: HookPool, name: str, email: str, **vars: str) -> Any:
    return await pool.call(HOOKS, FILE, name, [event_for(email, **vars)], wrap_event=True)


async def test_training_enrollments_and_groups(pool: HookPool, fake: FakeKnowBe4) -> None:
    assert await call(pool, "modules", "carol@x.com") == ["Phishing 101", "Passwords"]
    assert await call(pool, "by_campaign", "carol@x.com") == [["Passwords", "carol@x.com"]]
    assert await call(pool, "modules", "dave@x.com") == ["Phishing 101"]
    assert await call(pool, "member", "carol@x.com", group="42") is True
    assert await call(pool, "member", "dave@x.com", group="42") is False
    assert await call(pool, "member", "carol@x.com", group="43") is False
    # The enrollments asked for are the user's own, found by email, with the filter given.
    [asked] = [c for c in fake.seen("GET", "/v1/training/enrollments") if "campaign_id" in c.query]
    assert asked.query["user_id"] == ["1000"] and asked.query["campaign_id"] == ["2"]
    assert {c.headers["authorization"] for c in fake.calls} == {f"Bearer {KNOWBE4_TOKEN}"}


async def test_users_are_found_past_the_first_page(pool: HookPool, fake: FakeKnowBe4) -> None:
    for index in range(600):
        fake.add_user(f"user{index}@x.com")
    erin = fake.add_user("erin@x.com")
    fake.enroll(erin, "Data handling", "Passed", purchase=9, campaign=3)
    assert await call(pool, "modules", "ERIN@x.com") == ["Data handling"]
    pages = [c.query["page"] for c in fake.seen("GET", "/v1/users")]
    assert pages == [["1"], ["2"]]


async def test_failures_are_knowbe4_errors(pool: HookPool, fake: FakeKnowBe4) -> None:
    assert await call(pool, "failure", "zed@x.com") == "no KnowBe4 user has the email zed@x.com"
    with pytest.raises(HookError, match=r"KnowBe4Error: KnowBe4 GET /v1/groups/9/members"):
        await call(pool, "member", "carol@x.com", group="9")
    with pytest.raises(HookError, match="group_id must be an int, got str"):
        await call(pool, "bad_group", "carol@x.com")
    fake.fail("GET", "/v1/users", 500)
    assert await call(pool, "failure", "carol@x.com") == "KnowBe4 GET /v1/users returned HTTP 500"


def knowbe4_block(url: str) -> str:
    return f"""
resource "sym_integration" "knowbe4" {{
  type        = "knowbe4"
  name        = "knowbe4"
  external_id = "x.com"
  settings = {{
    api_token = env("KB4_TOKEN")
    region    = "eu"
    base_url  = "{url}"
  }}
}}
"""


async def test_a_flows_hooks_reach_its_knowbe4_integration(
    tmp_path: Path, fake: FakeKnowBe4
) -> None:
    (tmp_path / "impl.py").write_text(HOOKS)

    def config(receiver_url: str) -> str:
        return hooked_config(receiver_url) + knowbe4_block(fake.url)

    env = {"KB4_TOKEN": KNOWBE4_TOKEN}
    async with harness(tmp_path, config_text=config, monkeypatch_env=env) as h:
        fake.add_user("carol@example.com")
        trained = await h.request()
        assert (await h.run(trained))["status"] == "requested"
        fake.groups[42].append(fake.users[-1]["id"])
        member = await h.request()
        run = await h.run(member)
        assert run["status"] == "escalated"
        assert run["decisions"][0]["reason"] == "trained and in the trusted group"
    audit = (tmp_path / "data" / "audit.jsonl").read_text()
    assert KNOWBE4_TOKEN not in audit
