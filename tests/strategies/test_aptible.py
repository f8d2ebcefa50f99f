"""The aptible strategy: through the real App against a fake Aptible auth API, and up close."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from symbox.cli.users import set_identities
from symbox.engine.model import Actor
from symbox.runs.reconcile import Finding
from symbox.strategies.aptible import AptibleStrategy, token_fetch
from symbox.strategies.base import AccessLister, IdentityResolver, StrategyError
from symbox.strategies.rest import RestCaller, RetryTiming
from symbox.strategies.tokens import MARGIN, CachedToken
from tests.fakes.api_configs import aptible_config
from tests.fakes.aptible import ORGANIZATION, PASSWORD, USERNAME, FakeAptible
from tests.fakes.moto import REGION, MotoAws
from tests.harness import Harness, harness
from tests.strategies.aws_requests import grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
ROLE = "role-db-admins"
MEMBERSHIPS = f"/roles/{ROLE}/memberships"
USERS = f"/organizations/{ORGANIZATION}/users"
QUICK = RetryTiming(attempts=3, base=0.01, cap=1.0)


@pytest.fixture
def aptible() -> Iterator[FakeAptible]:
    """A fake Aptible whose db-admins role has dana; carol is a user of the organization."""
    with FakeAptible() as fake:
        dana = fake.add_user("dana@example.com")
        fake.add_user(CAROL)
        fake.add_role(ROLE, dana)
        yield fake


@asynccontextmanager
async def symbox_on(tmp_path: Path, fake: FakeAptible) -> AsyncIterator[Harness]:
    """symbox built from config (the real build_strategies path), pointed at the fake."""
    text = aptible_config(fake.url, ORGANIZATION, ROLE)
    env = {"APTIBLE_PASSWORD": PASSWORD}
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
    fake: FakeAptible, password: str = PASSWORD, clock: Clock | None = None
) -> AsyncIterator[AptibleStrategy]:
    """An aptible strategy on its own HTTP client, with quick retries."""
    async with httpx.AsyncClient(timeout=5) as client:

        def caller(token: CachedToken | None) -> RestCaller:
            return RestCaller(
                "Aptible",
                fake.url,
                {"Accept": "application/hal+json"},
                client,
                timing=QUICK,
                auth=token.headers if token is not None else None,
            )

        token = CachedToken(token_fetch(caller(None), USERNAME, password), clock or Clock())
        yield AptibleStrategy(caller(token), token, Unset(), ORGANIZATION, fake.url)


def user_of(fake: FakeAptible, email: str) -> str:
    """The fake's id for ``email``."""
    return next(user for user, (known, _) in fake.users.items() if known == email)


async def test_a_membership_is_granted_on_approval_and_removed_on_time(
    tmp_path: Path, aptible: FakeAptible
) -> None:
    carol = user_of(aptible, CAROL)
    dana = user_of(aptible, "dana@example.com")
    async with symbox_on(tmp_path, aptible) as h:
        run_id = await h.request(target="db-admins", duration="10m")
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated", approved.text
        assert approved.json()["grant"]["identity"] == carol
        assert aptible.members(ROLE) == [dana, carol]
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert aptible.members(ROLE) == [dana]
    [added] = aptible.seen("POST", MEMBERSHIPS)
    assert added.body == {"user_url": f"{aptible.url}/users/{carol}"}
    [removed] = [c for c in aptible.calls if c.method == "DELETE"]
    assert removed.status == 204
    # One token, asked for with the password grant, served every call.
    assert aptible.issued == ["apt-access-1"]
    assert aptible.token_requests == [
        {"grant_type": "password", "username": USERNAME, "scope": "manage", "expires_in": 3600}
    ]
    others = [call for call in aptible.calls if call.path != "/tokens"]
    assert others and all(c.headers["authorization"] == "Bearer apt-access-1" for c in others)


async def test_unknown_requesters_are_refused_and_a_set_email_is_used(
    tmp_path: Path, aptible: FakeAptible
) -> None:
    erin = aptible.add_user("erin.k@corp.example")
    aptible.add_user("frank@example.com", organization="org-other")
    async with symbox_on(tmp_path, aptible) as h:
        inputs = {"reason": "x", "duration": "10m", "target": "db-admins"}
        body = {"flow": "access", "flow_inputs": inputs}
        for who in ("erin@example.com", "frank@example.com"):
            refused = await h.call("POST", "/api/v1/events/request", who, body)
            assert refused.status_code == 400, refused.text
            assert refused.json()["message"] == (
                f"{who} cannot use flow access: no user of Aptible organization "
                f"{ORGANIZATION} has the email {who} (an operator can invite them in "
                f"Aptible, or set another email with `symbox users set {who} --aptible EMAIL`)"
            )
        assert (await h.call("GET", "/api/v1/runs", "reader")).json()["runs"] == []

        await set_identities(
            h.app.writer,
            "erin@example.com",
            {"aptible": "Erin.K@corp.example"},
            now=h.clock.now(),
            actor=Actor("operator", "test"),
        )
        run_id = await h.request(as_="erin@example.com", target="db-admins")
        assert (await h.approve(run_id)).json()["grant"]["identity"] == erin
        assert erin in aptible.members(ROLE)


async def test_grants_and_revokes_are_idempotent(aptible: FakeAptible) -> None:
    carol = user_of(aptible, CAROL)
    dana = user_of(aptible, "dana@example.com")
    request = grant("aptible_role", role_id=ROLE)
    async with strategy(aptible) as apt:
        assert isinstance(apt, IdentityResolver) and isinstance(apt, AccessLister)
        await apt.escalate(request)
        await apt.escalate(request)
        assert aptible.members(ROLE) == [dana, carol]
        assert await apt.holders(request.target) == {dana, carol}
        await apt.deescalate(request)
        await apt.deescalate(request)
        assert aptible.members(ROLE) == [dana]
        await apt.remove_holder(request.target, "u-9999")
    # A membership that already exists is not asked for again.
    assert len(aptible.seen("POST", MEMBERSHIPS)) == 1
    assert aptible.members(ROLE) == [dana]


async def test_memberships_and_users_are_read_across_pages(aptible: FakeAptible) -> None:
    users = [aptible.add_user(f"u{n}@example.com") for n in range(7)]
    aptible.add_role("role-big", *users)
    aptible.page_size = 3
    target = grant("aptible_role", role_id="role-big").target
    async with strategy(aptible) as apt:
        assert await apt.holders(target) == set(users)
        # u6 is on the third page of the organization's 9 users.
        assert await apt.remote_identity("u6@example.com") == users[6]
        await apt.remove_holder(target, users[6])
    assert aptible.members("role-big") == users[:6]
    pages = [c.query.get("page") for c in aptible.seen("GET", "/roles/role-big/memberships")]
    assert pages[:3] == [None, ["2"], ["3"]]


async def test_the_token_is_cached_and_renewed_before_it_expires(aptible: FakeAptible) -> None:
    # Aptible has sent expires_in as a string; it is read either way.
    aptible.expires_in = "1800"
    clock = Clock()
    request = grant("aptible_role", role_id=ROLE)
    async with strategy(aptible, clock=clock) as apt:
        await apt.escalate(request)
        clock.now += 1800 - MARGIN - 1
        await apt.deescalate(request)
        assert aptible.issued == ["apt-access-1"]
        clock.now += 2
        await apt.escalate(request)
        assert aptible.issued == ["apt-access-1", "apt-access-2"]
        # A token revoked in Aptible is replaced once, and the call goes through.
        aptible.revoke_tokens()
        await apt.deescalate(request)
        assert aptible.issued == ["apt-access-1", "apt-access-2", "apt-access-3"]
    assert user_of(aptible, CAROL) not in aptible.members(ROLE)
    assert [c.status for c in aptible.seen("GET", USERS)][-2:] == [401, 200]


async def test_throttling_and_server_errors_are_retried(
    tmp_path: Path, aptible: FakeAptible
) -> None:
    carol = user_of(aptible, CAROL)
    aptible.fail("POST", "/tokens", 502, body={"message": "bad gateway"})
    aptible.fail("GET", USERS, 429, headers={"Retry-After": "0"})
    aptible.fail("POST", MEMBERSHIPS, 503, body={"message": "try again"})
    aptible.fail("DELETE", "/memberships/", 500)
    async with symbox_on(tmp_path, aptible) as h:
        run_id = await h.request(target="db-admins")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert carol in aptible.members(ROLE)
        revoked = await h.call("POST", "/api/v1/events/deescalate", CAROL, {"run_id": run_id})
        assert revoked.status_code == 200, revoked.text
        await h.wait_status(run_id, "deescalated")
        assert carol not in aptible.members(ROLE)
    failed = [(c.method, c.path, c.status) for c in aptible.calls if c.status >= 400]
    assert [(method, status) for method, _, status in failed] == [
        ("POST", 502),
        ("GET", 429),
        ("POST", 503),
        ("DELETE", 500),
    ]


async def test_a_missing_role_errors_the_run_with_its_id(
    tmp_path: Path, aptible: FakeAptible
) -> None:
    del aptible.roles[ROLE]
    async with symbox_on(tmp_path, aptible) as h:
        run_id = await h.request(target="db-admins")
        await h.approve(run_id)
        run = await h.wait_status(run_id, "errored")
    assert f"escalate: Aptible has no role {ROLE} (target db-admins)" in run["error"]
    assert PASSWORD not in str(run)


async def test_permanent_failures_name_the_role_and_never_the_password(
    aptible: FakeAptible,
) -> None:
    request = grant("aptible_role", role_id=ROLE)
    async with strategy(aptible, password="wrong-password") as apt:
        with pytest.raises(StrategyError) as caught:
            await apt.escalate(request)
    assert caught.value.permanent and not caught.value.reached_target
    assert str(caught.value) == (
        f"identity lookup: Aptible: the credentials of Aptible user {USERNAME} were refused "
        "(HTTP 401: Invalid email or password)"
    )

    aptible.fail("POST", MEMBERSHIPS, 403, body={"message": "Forbidden: not a role manager"})
    async with strategy(aptible) as apt:
        with pytest.raises(StrategyError) as caught:
            await apt.escalate(request)
        assert caught.value.permanent
        assert str(caught.value) == (
            f"escalate (role {ROLE}): Aptible denied POST {MEMBERSHIPS}: the API token lacks "
            "the permission (HTTP 403: Forbidden: not a role manager)"
        )
        # A user of another organization cannot join the role: Aptible's 422, permanent.
        outsider = aptible.add_user("olga@example.com", organization="org-other")
        with pytest.raises(StrategyError) as caught:
            await apt.escalate(replace(request, identity=outsider))
        assert caught.value.permanent
        assert "HTTP 422: User is not a member of the organization" in str(caught.value)
        # Still failing after the retries: transient, and naming what failed.
        aptible.fail("GET", MEMBERSHIPS, 503, times=3)
        with pytest.raises(StrategyError) as caught:
            await apt.deescalate(request)
        assert not caught.value.permanent
        assert f"deescalate: Aptible GET {MEMBERSHIPS} failed: HTTP 503" in str(caught.value)
        with pytest.raises(StrategyError) as caught:
            await apt.escalate(grant("okta_group", group_id="00g1"))
        assert caught.value.permanent and "aptible_role target with settings.role_id" in str(
            caught.value
        )
    for call in aptible.calls:
        assert PASSWORD not in str(call.query) and "wrong-password" not in str(call.query)
        assert "password" not in str(call.body) or call.path == "/tokens"


async def test_reconciliation_removes_a_left_behind_member(
    tmp_path: Path, aptible: FakeAptible
) -> None:
    carol = user_of(aptible, CAROL)
    async with symbox_on(tmp_path, aptible) as h:
        run_id = await h.request(target="db-admins", duration="10m")
        await h.approve(run_id)
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        # Put back by hand after the revoke: reconciliation knows whose grant it was.
        aptible.add_member(ROLE, carol)
        findings = await h.app.reconciler.reconcile()
        # Dana was never granted by symbox: reported when symbox started, and left alone.
        assert findings == [Finding("aptible", "db-admins", carol, "stale_removed", CAROL)]
        assert carol not in aptible.members(ROLE)
        assert await h.app.reconciler.reconcile() == []


async def test_a_password_kept_in_secrets_manager_is_read_when_first_needed(
    tmp_path: Path, aptible: FakeAptible, aws: MotoAws
) -> None:
    carol = user_of(aptible, CAROL)
    await aws.connection.secretsmanager().create_secret(
        Name="sym/aptible", SecretString=f'{{"password": "{PASSWORD}"}}'
    )
    text = aptible_config(aptible.url, ORGANIZATION, ROLE).replace(
        'password = env("APTIBLE_PASSWORD")', "password_secret = sym_secret.aptible.id"
    )
    text += f"""
resource "sym_secrets" "aws" {{
  type     = "aws_secrets_manager"
  name     = "aws"
  settings = {{ region = "{REGION}", endpoint_url = "{aws.server.url}" }}
}}

resource "sym_secret" "aptible" {{
  path      = "sym/aptible"
  source_id = sym_secrets.aws.id
  settings  = {{ json_key = "password" }}
}}
"""
    # No APTIBLE_PASSWORD in the environment: only Secrets Manager has it.
    async with harness(tmp_path, config_text=lambda _: text) as h:
        run_id = await h.request(target="db-admins", duration="10m")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert carol in aptible.members(ROLE)
    assert aptible.issued == ["apt-access-1"]
    assert PASSWORD not in (tmp_path / "data" / "audit.jsonl").read_text()


async def test_sym_s_shape_username_and_password_from_one_json_secret(
    tmp_path: Path, aptible: FakeAptible, aws: MotoAws
) -> None:
    """As Sym's example writes it: username_secret and password_secret, json_key each."""
    carol = user_of(aptible, CAROL)
    await aws.connection.secretsmanager().create_secret(
        Name="main/aptible-bot-credentials",
        SecretString=f'{{"username": "{USERNAME}", "password": "{PASSWORD}"}}',
    )
    text = aptible_config(aptible.url, ORGANIZATION, ROLE).replace(
        'username = "symbox-robot@acme.example"\n    password = env("APTIBLE_PASSWORD")',
        "username_secret = sym_secret.aptible_bot_username.id\n"
        "    password_secret = sym_secret.aptible_bot_password.id",
    )
    assert "username_secret" in text
    text += f"""
resource "sym_secrets" "aws" {{
  type     = "aws_secrets_manager"
  name     = "aws"
  settings = {{ region = "{REGION}", endpoint_url = "{aws.server.url}" }}
}}

resource "sym_secret" "aptible_bot_username" {{
  path      = "main/aptible-bot-credentials"
  source_id = sym_secrets.aws.id
  settings  = {{ json_key = "username" }}
}}

resource "sym_secret" "aptible_bot_password" {{
  path      = "main/aptible-bot-credentials"
  source_id = sym_secrets.aws.id
  settings  = {{ json_key = "password" }}
}}
"""
    async with harness(tmp_path, config_text=lambda _: text) as h:
        run_id = await h.request(target="db-admins", duration="10m")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert carol in aptible.members(ROLE)
    assert PASSWORD not in (tmp_path / "data" / "audit.jsonl").read_text()
