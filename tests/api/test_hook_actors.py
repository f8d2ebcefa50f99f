"""Who hooks see acting: a person, a bot token as a bot, symbox as itself; never a stand-in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.api.test_hooks import hooked_config
from tests.harness import harness

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]

SHOW = """
from sym.sdk.exceptions import SymException
from sym.sdk.templates import ApprovalTemplate


def who(user):
    if user is None:
        return None
    return [user.email, user.username, user.role]


def on_approve(event):
    if event.payload.fields["reason"] == "show":
        seen = [who(event.user), who(event.get_actor("request"))]
        return ApprovalTemplate.ignore(message=str(seen))


def after_approve(event):
    raise SymException(str(["after_approve", who(event.user), who(event.get_actor("approve"))]))


def after_escalate(event):
    raise SymException(str(["after_escalate", who(event.user), who(event.get_actor("request"))]))


def on_deescalate(event):
    raise SymException(str(["on_deescalate", who(event.user)]))
"""

CAROL = ["carol@example.com", "carol@example.com", "member"]
BOT = [None, "bot:ci", "bot"]
SYSTEM = [None, "symbox", "system"]


@pytest.fixture
def showing(tmp_path: Path) -> Path:
    (tmp_path / "impl.py").write_text(SHOW)
    return tmp_path


async def test_a_bot_deciding_is_shown_to_hooks_as_the_bot(showing: Path) -> None:
    async with harness(showing, config_text=hooked_config) as h:
        run_id = await h.request(reason="show")
        refused = await h.approve(run_id, as_="ci")
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"] == str([BOT, CAROL])


async def test_after_hooks_see_the_deciding_bot_and_symbox_granting(showing: Path) -> None:
    async with harness(showing, config_text=hooked_config) as h:
        run_id = await h.request(reason="go")
        body = (await h.approve(run_id, as_="ci")).json()
        assert body["status"] == "escalated", body
        after_approve, after_escalate = body["errors"]
        assert str(["after_approve", BOT, BOT]) in after_approve
        assert str(["after_escalate", SYSTEM, CAROL]) in after_escalate
        await h.advance(600)
        expired = await h.wait_status(run_id, "deescalated")
        assert str(["on_deescalate", SYSTEM]) in expired["errors"][-1]


async def test_on_deescalate_sees_who_revoked(showing: Path) -> None:
    async with harness(showing, config_text=hooked_config) as h:
        for revoker, seen in (("carol@example.com", CAROL), ("ci", BOT)):
            run_id = await h.request(reason="go")
            assert (await h.approve(run_id)).json()["status"] == "escalated"
            revoked = await h.call("POST", "/api/v1/events/deescalate", revoker, {"run_id": run_id})
            assert revoked.json()["status"] == "deescalated", revoked.text
            assert str(["on_deescalate", seen]) in revoked.json()["errors"][-1]


async def test_a_bot_submitting_a_request_leaves_the_requester_as_event_user(
    showing: Path,
) -> None:
    async with harness(showing, config_text=hooked_config) as h:
        response = await h.call(
            "POST",
            "/api/v1/events/request",
            "ci",
            {
                "flow": "access",
                "user_email": "carol@example.com",
                "flow_inputs": {"reason": "show", "duration": "10m", "target": "prod-db"},
            },
        )
        run_id = response.json()["run_id"]
        refused = await h.approve(run_id, as_="alice@example.com")
        alice = ["alice@example.com", "alice@example.com", "member"]
        assert refused.json()["message"] == str([alice, CAROL])


def example_config(receiver_url: str) -> str:
    prod = 'prod_approvers = "alice@example.com"'
    return hooked_config(receiver_url).replace('safelist = "alice@example.com"', prod, 1)


async def test_the_example_gate_checks_the_approving_bot_not_the_requester(
    tmp_path: Path,
) -> None:
    shutil.copy(ROOT / "hooks" / "example.py", tmp_path / "impl.py")
    async with harness(tmp_path, config_text=example_config) as h:
        # alice may approve production; her own request approved by a bot must not pass
        # the gate as if she had approved it.
        own = await h.request(as_="alice@example.com", duration="10m")
        refused = await h.approve(own, as_="ci")
        assert refused.status_code == 403, refused.text
        assert "prod_approvers" in refused.json()["message"]
        assert (await h.run(own))["status"] == "requested"
        assert h.receiver.state.requests == []
        # A person listed in prod_approvers still approves someone else's request.
        carols = await h.request(duration="10m")
        assert (await h.approve(carols, as_="alice@example.com")).json()["status"] == "escalated"
