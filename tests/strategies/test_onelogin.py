"""The onelogin strategy: through the real App against a fake OneLogin, and up close."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from symbox.cli.users import set_identities
from symbox.engine.model import Actor
from symbox.runs.reconcile import Finding
from symbox.strategies.base import AccessLister, IdentityResolver, StrategyError
from symbox.strategies.onelogin import WAIT_HEADERS, OneLoginStrategy, token_fetch
from symbox.strategies.rest import RestCaller, RetryTiming
from symbox.strategies.tokens import MARGIN, CachedToken
from tests.fakes.api_configs import onelogin_config
from tests.fakes.moto import REGION, MotoAws
from tests.fakes.onelogin import CLIENT_ID, CLIENT_SECRET, TOKEN_PATH, FakeOneLogin
from tests.harness import Harness, harness
from tests.strategies.aws_requests import grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
ROLE = "254213"
MEMBERS = f"/api/2/roles/{ROLE}/users"
QUICK = RetryTiming(attempts=3, base=0.01, cap=1.0)


@pytest.fixture
def onelogin() -> Iterator[FakeOneLogin]:
    """A fake OneLogin with the admins role (holding dana) and users carol and dana."""
    with FakeOneLogin() as fake:
        dana = fake.add_user("dana@example.com")
        fake.add_user(CAROL, "carol.w")
        fake.add_role(ROLE, dana)
        yield fake


@asynccontextmanager
async def symbox_on(tmp_path: Path, fake: FakeOneLogin) -> AsyncIterator[Harness]:
    """symbox built from config (the real build_strategies path), pointed at the fake."""
    text = onelogin_config(fake.url, ROLE)
    env = {"ONELOGIN_CLIENT_SECRET": CLIENT_SECRET}
    async with harness(tmp_path, config_text=lambda _: text, monkeypatch_env=env) as h:
        yield h


class Unset:
    """No identities set."""

    async def identity_of(self, email: str, system: str) -> str | None:
        """Nothing is set."""
        return None


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The time now."""
        return self.now


@asynccontextmanager
async def strategy(
    fake: FakeOneLogin, secret: str = CLIENT_SECRET, clock: Clock | None = None
) -> AsyncIterator[OneLoginStrategy]:
    """A onelogin strategy on its own HTTP client, with quick retries."""
    async with httpx.AsyncClient(timeout=5) as client:

        def caller(token: CachedToken | None) -> RestCaller:
            return RestCaller(
                "OneLogin",
                fake.url,
                {"Accept": "application/json"},
                client,
                timing=QUICK,
                wait_headers=WAIT_HEADERS,
                auth=token.headers if token is not None else None,
            )

        token = CachedToken(token_fetch(caller(None), CLIENT_ID, secret), clock or Clock())
        yield OneLoginStrategy(caller(token), token, Unset())


def user_of(fake: FakeOneLogin, email: str) -> int:
    """The fake's id for ``email``."""
    return next(user for user, entry in fake.users.items() if entry["email"] == email)


async def test_role_membership_is_granted_on_approval_and_removed_on_time(
    tmp_path: Path, onelogin: FakeOneLogin
) -> None:
    carol = user_of(onelogin, CAROL)
    dana = user_of(onelogin, "dana@example.com")
    async with symbox_on(tmp_path, onelogin) as h:
        run_id = await h.request(target="ol-admins", duration="10m")
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated", approved.text
        assert approved.json()["grant"]["identity"] == str(carol)
        assert onelogin.members(ROLE) == [dana, carol]
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert onelogin.members(ROLE) == [dana]
    [added] = onelogin.seen("POST", MEMBERS)
    assert added.body == [carol]
    [removed] = onelogin.seen("DELETE", MEMBERS)
    assert (removed.body, removed.status) == ([carol], 204)
    # One token served every call: it is cached, not fetched per request.
    assert onelogin.issued == ["ol-access-1"]
    [fetched] = onelogin.seen("POST", TOKEN_PATH)
    assert fetched.headers["authorization"] == (
        f"client_id:{CLIENT_ID}, client_secret:{CLIENT_SECRET}"
    )
    others = [call for call in onelogin.calls if call.path != TOKEN_PATH]
    assert others and all(c.headers["authorization"] == "Bearer ol-access-1" for c in others)


async def test_unknown_requesters_are_refused_and_a_set_login_is_used(
    tmp_path: Path, onelogin: FakeOneLogin
) -> None:
    erin = onelogin.add_user("erin.k@corp.example", "erin.k")
    async with symbox_on(tmp_path, onelogin) as h:
        inputs = {"reason": "x", "duration": "10m", "target": "ol-admins"}
        body = {"flow": "access", "flow_inputs": inputs}
        refused = await h.call("POST", "/api/v1/events/request", "erin@example.com", body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"] == (
            "erin@example.com cannot use flow access: no OneLogin user has the email "
            "erin@example.com (an operator can set another email or username with "
            "`symbox users set erin@example.com --onelogin LOGIN`)"
        )
        assert (await h.call("GET", "/api/v1/runs", "reader")).json()["runs"] == []

        # A username (no @) is looked up as a username.
        await set_identities(
            h.app.writer,
            "erin@example.com",
            {"onelogin": "erin.k"},
            now=h.clock.now(),
            actor=Actor("operator", "test"),
        )
        run_id = await h.request(as_="erin@example.com", target="ol-admins")
        assert (await h.approve(run_id)).json()["grant"]["identity"] == str(erin)
        assert erin in onelogin.members(ROLE)
    lookups = [call.query for call in onelogin.seen("GET", "/api/2/users")]
    assert {"username": ["erin.k"]} in lookups


async def test_an_email_is_also_tried_as_a_username(onelogin: FakeOneLogin) -> None:
    # Some accounts sign in with a username that is an email other than the user's own.
    fay = onelogin.add_user("fay@corp.example", "fay@example.com")
    async with strategy(onelogin) as ol:
        assert await ol.remote_identity("fay@example.com") == str(fay)
    lookups = [call.query for call in onelogin.seen("GET", "/api/2/users")]
    assert lookups == [{"email": ["fay@example.com"]}, {"username": ["fay@example.com"]}]


async def test_grants_and_revokes_are_idempotent(onelogin: FakeOneLogin) -> None:
    carol = user_of(onelogin, CAROL)
    dana = user_of(onelogin, "dana@example.com")
    request = grant("onelogin_role", role_id=ROLE)
    async with strategy(onelogin) as ol:
        assert isinstance(ol, IdentityResolver) and isinstance(ol, AccessLister)
        await ol.escalate(request)
        await ol.escalate(request)
        assert onelogin.members(ROLE) == [dana, carol]
        assert await ol.holders(request.target) == {str(dana), str(carol)}
        await ol.deescalate(request)
        await ol.deescalate(request)
        assert onelogin.members(ROLE) == [dana]
        # A user deleted from OneLogin holds nothing: removing them succeeds.
        await ol.remove_holder(request.target, "99999")
    assert onelogin.members(ROLE) == [dana]


async def test_holders_follow_every_page(onelogin: FakeOneLogin) -> None:
    members = [onelogin.add_user(f"u{n}@example.com") for n in range(7)]
    onelogin.add_role("777", *members)
    onelogin.page_size = 3
    async with strategy(onelogin) as ol:
        found = await ol.holders(grant("onelogin_role", role_id="777").target)
    assert found == {str(user) for user in members}
    pages = onelogin.seen("GET", "/api/2/roles/777/users")
    assert len(pages) == 3
    assert "cursor" not in pages[0].query
    assert all("cursor" in page.query for page in pages[1:])


async def test_the_token_is_cached_and_renewed_before_it_expires(onelogin: FakeOneLogin) -> None:
    onelogin.expires_in = 3600
    clock = Clock()
    request = grant("onelogin_role", role_id=ROLE)
    async with strategy(onelogin, clock=clock) as ol:
        await ol.escalate(request)
        await ol.deescalate(request)
        assert onelogin.issued == ["ol-access-1"]
        clock.now += 3600 - MARGIN - 1
        await ol.escalate(request)
        assert onelogin.issued == ["ol-access-1"]
        # Within the margin of its expiry: a new one, before the old one lapses.
        clock.now += 2
        await ol.deescalate(request)
        assert onelogin.issued == ["ol-access-1", "ol-access-2"]
    last = onelogin.seen("DELETE", MEMBERS)[-1]
    assert last.headers["authorization"] == "Bearer ol-access-2"


async def test_a_refused_token_is_replaced_once(onelogin: FakeOneLogin) -> None:
    carol = user_of(onelogin, CAROL)
    request = grant("onelogin_role", role_id=ROLE)
    async with strategy(onelogin) as ol:
        await ol.remote_identity(CAROL)
        onelogin.revoke_tokens()
        await ol.escalate(request)
        assert carol in onelogin.members(ROLE)
        assert onelogin.issued == ["ol-access-1", "ol-access-2"]
        assert [call.status for call in onelogin.seen("GET", "/api/2/users")] == [200, 401, 200]
        # Refused again with a new token: the credentials lack access, and retrying won't help.
        onelogin.fail("GET", "/api/2/users", 401, times=2, body={"message": "Unauthorized"})
        with pytest.raises(StrategyError) as caught:
            await ol.remote_identity(CAROL)
    assert caught.value.permanent
    assert str(caught.value) == (
        f"identity lookup ({CAROL}): OneLogin refused the API token (HTTP 401: Unauthorized)"
    )
    assert onelogin.issued == ["ol-access-1", "ol-access-2", "ol-access-3"]


async def test_throttling_and_server_errors_are_retried(
    tmp_path: Path, onelogin: FakeOneLogin
) -> None:
    carol = user_of(onelogin, CAROL)
    onelogin.fail("POST", TOKEN_PATH, 503, body={"message": "unavailable"})
    onelogin.fail("GET", "/api/2/users", 429, headers={"X-RateLimit-Reset": "0"})
    onelogin.fail("POST", MEMBERS, 502, body={"message": "bad gateway"})
    onelogin.fail("DELETE", MEMBERS, 429, headers={"Retry-After": "0"})
    async with symbox_on(tmp_path, onelogin) as h:
        run_id = await h.request(target="ol-admins")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert carol in onelogin.members(ROLE)
        revoked = await h.call("POST", "/api/v1/events/deescalate", CAROL, {"run_id": run_id})
        assert revoked.status_code == 200, revoked.text
        await h.wait_status(run_id, "deescalated")
        assert carol not in onelogin.members(ROLE)
    statuses = [(c.method, c.path, c.status) for c in onelogin.calls if c.status >= 400]
    assert statuses == [
        ("POST", TOKEN_PATH, 503),
        ("GET", "/api/2/users", 429),
        ("POST", MEMBERS, 502),
        ("DELETE", MEMBERS, 429),
    ]


async def test_a_rate_limit_window_longer_than_a_retry_fails_as_transient(
    onelogin: FakeOneLogin,
) -> None:
    # OneLogin's reset header counts seconds from now; a long wait is the service's to make.
    onelogin.fail("POST", MEMBERS, 429, headers={"X-RateLimit-Reset": "900"})
    async with strategy(onelogin) as ol:
        with pytest.raises(StrategyError) as caught:
            await ol.escalate(grant("onelogin_role", role_id=ROLE))
    assert not caught.value.permanent
    assert "HTTP 429; asked to wait 900 s" in str(caught.value)
    assert len(onelogin.seen("POST", MEMBERS)) == 1


async def test_a_missing_role_errors_the_run_with_its_id(
    tmp_path: Path, onelogin: FakeOneLogin
) -> None:
    del onelogin.roles[ROLE]
    async with symbox_on(tmp_path, onelogin) as h:
        run_id = await h.request(target="ol-admins")
        await h.approve(run_id)
        run = await h.wait_status(run_id, "errored")
    assert f"escalate: OneLogin has no role {ROLE} (target ol-admins)" in run["error"]
    assert CLIENT_SECRET not in str(run)


async def test_permanent_failures_name_the_role_and_never_the_secret(
    onelogin: FakeOneLogin,
) -> None:
    request = grant("onelogin_role", role_id=ROLE)
    async with strategy(onelogin, secret="wrong-secret") as ol:
        with pytest.raises(StrategyError) as caught:
            await ol.escalate(request)
    assert caught.value.permanent and not caught.value.reached_target
    assert str(caught.value) == (
        f"identity lookup: OneLogin: the API credentials of client {CLIENT_ID} were refused "
        "(HTTP 401: Authentication Failure)"
    )
    assert "wrong-secret" not in str(caught.value)

    onelogin.fail("POST", MEMBERS, 403, body={"message": "Forbidden: needs Manage All"})
    async with strategy(onelogin) as ol:
        with pytest.raises(StrategyError) as caught:
            await ol.escalate(request)
        assert caught.value.permanent
        assert str(caught.value) == (
            f"escalate (role {ROLE}): OneLogin denied POST {MEMBERS}: the API token lacks the "
            "permission (HTTP 403: Forbidden: needs Manage All)"
        )
        # Still failing after the retries: transient, and naming what failed.
        onelogin.fail("DELETE", MEMBERS, 503, times=3)
        with pytest.raises(StrategyError) as caught:
            await ol.deescalate(request)
        assert not caught.value.permanent
        assert f"deescalate: OneLogin DELETE {MEMBERS} failed: HTTP 503" in str(caught.value)
        with pytest.raises(StrategyError) as caught:
            await ol.escalate(grant("okta_group", group_id="00g1"))
        assert caught.value.permanent and "onelogin_role target with settings.role_id" in str(
            caught.value
        )
    for call in onelogin.calls:
        assert CLIENT_SECRET not in str(call.body) and CLIENT_SECRET not in str(call.query)


async def test_reconciliation_removes_a_left_behind_member(
    tmp_path: Path, onelogin: FakeOneLogin
) -> None:
    carol = user_of(onelogin, CAROL)
    async with symbox_on(tmp_path, onelogin) as h:
        run_id = await h.request(target="ol-admins", duration="10m")
        await h.approve(run_id)
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        # Put back by hand after the revoke: reconciliation knows whose grant it was.
        onelogin.add_role(ROLE, *onelogin.members(ROLE), carol)
        findings = await h.app.reconciler.reconcile()
        # Dana was never granted by symbox: reported when symbox started, and left alone.
        assert findings == [Finding("onelogin", "ol-admins", str(carol), "stale_removed", CAROL)]
        assert carol not in onelogin.members(ROLE)
        assert await h.app.reconciler.reconcile() == []


async def test_a_client_secret_kept_in_secrets_manager_is_read_when_first_needed(
    tmp_path: Path, onelogin: FakeOneLogin, aws: MotoAws
) -> None:
    carol = user_of(onelogin, CAROL)
    await aws.connection.secretsmanager().create_secret(
        Name="sym/onelogin", SecretString=CLIENT_SECRET
    )
    text = onelogin_config(onelogin.url, ROLE).replace(
        'client_secret = env("ONELOGIN_CLIENT_SECRET")',
        "client_secret_secret = sym_secret.onelogin.id",
    )
    text += f"""
resource "sym_secrets" "aws" {{
  type     = "aws_secrets_manager"
  name     = "aws"
  settings = {{ region = "{REGION}", endpoint_url = "{aws.server.url}" }}
}}

resource "sym_secret" "onelogin" {{
  path      = "sym/onelogin"
  source_id = sym_secrets.aws.id
}}
"""
    # No ONELOGIN_CLIENT_SECRET in the environment: only Secrets Manager has it.
    async with harness(tmp_path, config_text=lambda _: text) as h:
        run_id = await h.request(target="ol-admins", duration="10m")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert carol in onelogin.members(ROLE)
    [fetched] = onelogin.seen("POST", TOKEN_PATH)
    assert fetched.status == 200
    assert CLIENT_SECRET not in (tmp_path / "data" / "audit.jsonl").read_text()
