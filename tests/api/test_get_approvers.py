"""A flow whose only reducer is Sym's older get_approvers: its destinations may approve."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.engine.permissions import destinations_rule
from tests.api.test_hooks import hooked_config
from tests.harness import harness

pytestmark = pytest.mark.anyio

PEOPLE = """
from sym.sdk.annotations import reducer
from sym.sdk.integrations import slack


@reducer
def get_approvers(event):
    return [slack.user("dave@example.com"), slack.group(["erin@example.com"])]
"""

CHANNEL = """
from sym.sdk.annotations import reducer
from sym.sdk.integrations import slack


@reducer
def get_approvers(event):
    return slack.channel("#access-requests", allow_self=ALLOW)
"""


def _config(receiver_url: str) -> str:
    # The vars list nobody: only the reducer's destinations name approvers.
    text = hooked_config(receiver_url)
    return text.replace('approvers = "alice@example.com,bob@example.com,bot:ci"', "", 1)


async def test_the_people_get_approvers_names_may_approve_and_no_one_else(
    tmp_path: Path,
) -> None:
    (tmp_path / "impl.py").write_text(PEOPLE)
    async with harness(tmp_path, config_text=_config) as h:
        run_id = await h.request()
        assert (await h.approve(run_id, as_="alice@example.com")).status_code in (403, 404)
        approved = await h.approve(run_id, as_="dave@example.com")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "escalated"
        second = await h.request()
        assert (await h.approve(second, as_="erin@example.com")).json()["status"] == "escalated"


@pytest.mark.parametrize("allow_self", [False, True])
async def test_a_channel_lets_anyone_approve_and_allow_self_decides_self_approval(
    tmp_path: Path, allow_self: bool
) -> None:
    (tmp_path / "impl.py").write_text(CHANNEL.replace("ALLOW", str(allow_self)))
    async with harness(tmp_path, config_text=_config) as h:
        run_id = await h.request()
        own = await h.approve(run_id, as_="carol@example.com")
        if allow_self:
            assert own.json()["status"] == "escalated", own.text
        else:
            assert own.status_code == 403, own.text
            assert own.json()["message"] == (
                "requesters may not decide their own request in this flow"
            )
            other = await h.approve(run_id, as_="frank@example.com")
            assert other.json()["status"] == "escalated", other.text


def test_the_rule_from_stored_destinations() -> None:
    stored = (
        {"destinations": ["Ann@Example.com", {"type": "slack_group", "users": ["bo@x.com"]}]},
        {"destinations": [{"type": "slack_fallback", "destinations": ["cy@x.com"]}]},
    )
    rule = destinations_rule(stored, {"approvers": "dee@x.com"})
    assert rule.approvers == frozenset({"ann@example.com", "bo@x.com", "cy@x.com", "dee@x.com"})
    assert not rule.allow_self_approval
    channel = destinations_rule(({"destinations": ["#ops"]},), {})
    assert channel.approvers is None
