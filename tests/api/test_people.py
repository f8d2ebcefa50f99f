"""Requests and decisions are about people: one spelling each, whatever was typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbox.cli.tokens import issue_token
from symbox.cli.users import set_identities
from symbox.config import ConfigError
from symbox.engine.model import Actor
from tests.fakes.api_configs import okta_config
from tests.fakes.configs import access_config
from tests.fakes.okta import OKTA_TOKEN, FakeOkta
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

REQUEST = "/api/v1/events/request"
INPUTS = {"reason": "x", "duration": "10m", "target": "prod-db"}


async def bot_request(h: Harness, user_email: str) -> tuple[int, dict[str, object]]:
    body = {"flow": "access", "user_email": user_email, "flow_inputs": INPUTS}
    response = await h.call("POST", REQUEST, "ci", body)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "user_email",
    [
        "carol\u200b@example.com",
        "carol@example.com\u200e",
        "c\u0430rol@example.com",
        "carol@example.com.",
        "carol+prod@example.com",
    ],
)
async def test_look_alike_requesters_are_refused(tmp_path: Path, user_email: str) -> None:
    async with harness(tmp_path) as h:
        status, body = await bot_request(h, user_email)
        assert status == 400, body
        assert (body["code"], str(body["message"]).split(":")[0]) == ("bad_request", "user_email")
        listed = (await h.call("GET", "/api/v1/runs", "ci")).json()["runs"]
        assert listed == []


async def test_self_approval_compares_the_person_not_the_spelling(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        # A fullwidth "a": on screen alice's address, and it is alice who would be granted.
        status, body = await bot_request(h, "\uff41lice@Example.com")
        assert status == 201, body
        run_id = str(body["run_id"])
        assert (await h.run(run_id))["requester"] == "alice@example.com"
        selfie = await h.approve(run_id, as_="alice@example.com")
        assert selfie.status_code == 403, selfie.text
        assert "own request" in selfie.json()["message"]
        assert h.receiver.state.requests == []
        approved = await h.approve(run_id, as_="bob@example.com")
        assert approved.json()["status"] == "escalated"
        assert h.receiver.state.granted == {("prod-db", "alice@example.com")}


async def test_self_approval_compares_the_identity_that_would_be_granted(
    tmp_path: Path,
) -> None:
    with FakeOkta() as okta:
        okta.add_group("00g-admins")
        alice = okta.add_user("alice@example.com")
        env = {"OKTA_TOKEN": OKTA_TOKEN}
        config = okta_config(okta.url)
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=env) as h:
            # dave's Okta login is set to alice's: his request would grant alice's account.
            operator = Actor("operator", "test")
            await set_identities(
                h.app.writer,
                "dave@example.com",
                {"okta": "alice@example.com"},
                now=0.0,
                actor=operator,
            )
            run_id = await h.request(as_="dave@example.com", target="okta-admins")
            refused = await h.approve(run_id, as_="alice@example.com")
            assert refused.status_code == 403, refused.text
            assert "own identity" in refused.json()["message"]
            assert (await h.run(run_id))["status"] == "requested"
            assert okta.members("00g-admins") == set()
            # Where the grant is someone else's, alice approves as before.
            okta.add_user("erin@example.com")
            erins = await h.request(as_="erin@example.com", target="okta-admins")
            assert (await h.approve(erins, as_="alice@example.com")).json()["status"] == "escalated"
            assert alice not in okta.members("00g-admins")


async def mapped_to_alice(h: Harness) -> None:
    """Set dave's Okta login to alice's, so his requests would grant alice's account."""
    operator = Actor("operator", "test")
    await set_identities(
        h.app.writer, "dave@example.com", {"okta": "alice@example.com"}, now=0.0, actor=operator
    )


def okta_down(okta: FakeOkta, path: str) -> None:
    """Answer 503 to every try of the next lookup under ``path``, without waiting between."""
    okta.fail("GET", path, 503, times=4, headers={"Retry-After": "0"})


async def test_self_approval_is_refused_while_the_grant_identity_is_unknown(
    tmp_path: Path,
) -> None:
    with FakeOkta() as okta:
        okta.add_group("00g-admins")
        alice = okta.add_user("alice@example.com")
        env = {"OKTA_TOKEN": OKTA_TOKEN}
        config = okta_config(okta.url)
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=env) as h:
            await mapped_to_alice(h)
            run_id = await h.request(as_="dave@example.com", target="okta-admins")
            # The lookup of who dave's grant would go to fails for now, not for good.
            okta_down(okta, "/api/v1/users/")
            unverified = await h.approve(run_id, as_="alice@example.com")
            assert unverified.status_code == 503, unverified.text
            assert "cannot verify identity" in unverified.json()["message"]
            assert unverified.json()["code"] == "identity_unverified"
            assert (await h.run(run_id))["status"] == "requested"
            assert okta.members("00g-admins") == set()
            # Once Okta answers, the approval is seen for what it is.
            refused = await h.approve(run_id, as_="alice@example.com")
            assert refused.status_code == 403, refused.text
            assert "own identity" in refused.json()["message"]
            assert alice not in okta.members("00g-admins")


async def test_an_approval_waits_while_the_approvers_identity_is_unknown(
    tmp_path: Path,
) -> None:
    with FakeOkta() as okta:
        okta.add_group("00g-admins")
        okta.add_user("alice@example.com")
        erin = okta.add_user("erin@example.com")
        env = {"OKTA_TOKEN": OKTA_TOKEN}
        config = okta_config(okta.url)
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=env) as h:
            run_id = await h.request(as_="erin@example.com", target="okta-admins")
            okta_down(okta, "/api/v1/users/alice@example.com")
            unverified = await h.approve(run_id, as_="alice@example.com")
            assert unverified.status_code == 503, unverified.text
            assert "cannot verify identity" in unverified.json()["message"]
            assert (await h.run(run_id))["status"] == "requested"
            approved = await h.approve(run_id, as_="alice@example.com")
            assert approved.json()["status"] == "escalated", approved.text
            assert okta.members("00g-admins") == {erin}


async def test_the_identity_bound_for_the_grant_is_compared_with_the_approvers(
    tmp_path: Path,
) -> None:
    with FakeOkta() as okta:
        okta.add_group("00g-admins")
        okta.add_user("alice@example.com")
        env = {"OKTA_TOKEN": OKTA_TOKEN}
        config = okta_config(okta.url)
        async with harness(tmp_path, config_text=lambda _: config, monkeypatch_env=env) as h:
            await mapped_to_alice(h)
            run_id = await h.request(as_="dave@example.com", target="okta-admins")
            # At the approval Okta says the login has no user; by the grant it has alice's.
            okta.fail(
                "GET",
                "/api/v1/users/",
                404,
                body={"errorCode": "E0000007", "errorSummary": "Not found"},
            )
            answered = await h.approve(run_id, as_="alice@example.com")
            assert answered.status_code == 200, answered.text
            run = answered.json()
            assert run["status"] == "errored"
            assert "alice@example.com's own identity" in run["errors"][-1]
            assert run["grant"]["state"] == "revoked"
            assert okta.members("00g-admins") == set()
            assert okta.seen("PUT", "/api/v1/groups/00g-admins/users/00u1") == []
            stored = await h.run(run_id)
            assert [event["name"] for event in stored["events"]] == [
                "request",
                "approve",
                "escalate",
            ]
            assert "own identity" in stored["events"][-1]["error"]
        lines = (tmp_path / "data" / "audit.jsonl").read_text().splitlines()
        assert any(run_id in line and "own identity" in line for line in lines)


async def test_a_user_token_requests_for_its_user_in_any_spelling(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        body = {"flow": "access", "user_email": "\uff43arol@EXAMPLE.com", "flow_inputs": INPUTS}
        response = await h.call("POST", REQUEST, "carol@example.com", body)
        assert response.status_code == 201, response.text
        body["user_email"] = "carol\u200b@example.com"
        refused = await h.call("POST", REQUEST, "carol@example.com", body)
        assert refused.status_code == 400, refused.text


async def test_user_tokens_are_issued_only_for_accepted_addresses(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        with pytest.raises(ValueError, match="mixes scripts"):
            await issue_token(
                h.app.writer,
                kind="user",
                subject="d\u0430ve@example.com",
                label=None,
                now=h.clock.now(),
                expires_in=None,
                issued_by=Actor("operator", "test"),
            )
        _, record = await issue_token(
            h.app.writer,
            kind="user",
            subject="Dave@Example.com",
            label=None,
            now=h.clock.now(),
            expires_in=None,
            issued_by=Actor("operator", "test"),
        )
        assert record.subject == "dave@example.com"


async def test_approver_lists_with_look_alike_addresses_do_not_load(tmp_path: Path) -> None:
    def config(receiver_url: str) -> str:
        return access_config(receiver_url).replace(
            "alice@example.com,bob@example.com", "alice@example.com,b\u043eb@example.com", 1
        )

    with pytest.raises(ConfigError) as refused:
        async with harness(tmp_path, config_text=config):
            pass
    assert 'vars["approvers"]' in str(refused.value)
    assert "mixes scripts" in str(refused.value)
