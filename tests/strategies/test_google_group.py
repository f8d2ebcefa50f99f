"""The google_group strategy: through the real App against a fake Google, and up close."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from symbox.cli.users import set_identities
from symbox.engine.model import Actor
from symbox.runs.reconcile import Finding
from symbox.strategies.base import AccessLister, IdentityResolver, StrategyError
from symbox.strategies.google_auth import (
    ASSERTION_LIFETIME,
    REFRESH_MARGIN,
    GoogleTokens,
    load_account,
)
from symbox.strategies.google_group import GoogleGroupStrategy
from symbox.strategies.rest import RestCaller, RetryTiming
from tests.fakes.api_configs import google_config
from tests.fakes.google import ADMIN, CLIENT_EMAIL, SCOPE, TOKEN_PATH, FakeGoogle, key_json
from tests.fakes.moto import REGION, MotoAws
from tests.harness import Harness, harness
from tests.strategies.aws_requests import grant

pytestmark = pytest.mark.anyio

CAROL = "carol@example.com"
DANA = "dana@example.com"
GROUP = "prod-db@acme.example"
MEMBERS = f"/admin/directory/v1/groups/{GROUP}/members"
QUICK = RetryTiming(attempts=3, base=0.01, cap=1.0)
KEY_PATH = "symbox/google-key"


class Clock:
    """Wall time the test moves by hand, shared by symbox and the fake."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Unset:
    """No identities set."""

    async def identity_of(self, email: str, system: str) -> str | None:
        """Nothing is set."""
        return None


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    """A fake Google whose group prod-db@acme.example holds dana."""
    with FakeGoogle() as fake:
        fake.add_group(GROUP, {DANA: "MEMBER"})
        yield fake


def secret_bits(key: str) -> list[str]:
    """Parts of a key that must never be shown: its private key's body."""
    body = json.loads(key)["private_key"].splitlines()
    return [line for line in body[1:-1] if len(line) > 20][:3]


@asynccontextmanager
async def symbox_on(
    tmp_path: Path, fake: FakeGoogle, admin: str = ADMIN, role: str = "MANAGER"
) -> AsyncIterator[Harness]:
    """symbox built from config (the real build_strategies path), pointed at the fake."""
    text = google_config(fake.url, admin, role)
    env = {"GOOGLE_SERVICE_ACCOUNT_KEY": fake.key()}
    async with harness(tmp_path, config_text=lambda _: text, monkeypatch_env=env) as h:
        yield h


@asynccontextmanager
async def strategy(
    fake: FakeGoogle, clock: Clock | None = None, key: str | None = None
) -> AsyncIterator[GoogleGroupStrategy]:
    """A google_group strategy on its own HTTP client, with quick retries."""
    text = key or fake.key()

    async def read() -> str:
        return text

    async with httpx.AsyncClient(timeout=5) as client:
        tokens = GoogleTokens(read, ADMIN, client, timing=QUICK, clock=clock or fake.clock)
        rest = RestCaller(
            "Google",
            fake.url,
            {"Accept": "application/json"},
            client,
            timing=QUICK,
            auth=tokens.headers,
        )
        yield GoogleGroupStrategy(rest, tokens, Unset())


def token_calls(fake: FakeGoogle) -> int:
    """How many times symbox asked for a token."""
    return len(fake.seen("POST", TOKEN_PATH))


async def test_membership_is_granted_on_approval_and_removed_on_time(
    tmp_path: Path, google: FakeGoogle
) -> None:
    async with symbox_on(tmp_path, google) as h:
        run_id = await h.request(target="prod-db", duration="10m")
        assert google.members(GROUP) == {DANA: "MEMBER"}
        approved = await h.approve(run_id)
        assert approved.json()["status"] == "escalated", approved.text
        assert approved.json()["grant"]["identity"] == CAROL
        assert google.members(GROUP) == {DANA: "MEMBER", CAROL: "MANAGER"}
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert google.members(GROUP) == {DANA: "MEMBER"}
    [add] = google.seen("POST", MEMBERS)
    assert add.body == {"email": CAROL, "role": "MANAGER"}
    assert [call.status for call in google.seen("DELETE", f"{MEMBERS}/{CAROL}")] == [204]
    # One token served reconciliation at start, the grant and the revoke.
    assert token_calls(google) == 1
    directory = [call for call in google.calls if call.path != TOKEN_PATH]
    assert {call.headers["authorization"] for call in directory} == {"Bearer ya29.fake-1"}
    [claims] = google.assertions
    assert (claims["iss"], claims["sub"], claims["scope"]) == (CLIENT_EMAIL, ADMIN, SCOPE)
    assert claims["aud"] == google.token_uri
    assert claims["exp"] - claims["iat"] == ASSERTION_LIFETIME


async def test_a_set_google_email_is_used(tmp_path: Path, google: FakeGoogle) -> None:
    async with symbox_on(tmp_path, google) as h:
        await set_identities(
            h.app.writer,
            CAROL,
            {"google": "carol.smith@acme.example"},
            now=h.clock.now(),
            actor=Actor("operator", "test"),
        )
        run_id = await h.request(target="prod-db", duration="10m")
        approved = await h.approve(run_id)
        assert approved.json()["grant"]["identity"] == "carol.smith@acme.example"
        assert google.members(GROUP) == {DANA: "MEMBER", "carol.smith@acme.example": "MANAGER"}
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        assert google.members(GROUP) == {DANA: "MEMBER"}


async def test_the_token_is_kept_and_renewed_shortly_before_it_expires() -> None:
    clock = Clock()
    with FakeGoogle(clock=clock) as google:
        google.add_group(GROUP)
        request = grant("google_group", group_email=GROUP)
        async with strategy(google, clock) as gg:
            await gg.escalate(request)
            await gg.deescalate(request)
            assert token_calls(google) == 1
            clock.now += google.token_lifetime - REFRESH_MARGIN - 1
            await gg.escalate(request)
            assert token_calls(google) == 1
            # Within the margin: a new token before Google would refuse the old one.
            clock.now += 2
            await gg.deescalate(request)
            assert token_calls(google) == 2
        # The new assertion is dated by the clock, so Google accepts it.
        assert [claims["iat"] for claims in google.assertions] == [
            int(clock.now - google.token_lifetime + REFRESH_MARGIN - 1),
            int(clock.now),
        ]
        used = [c.headers["authorization"] for c in google.calls if c.path != TOKEN_PATH]
        assert used == ["Bearer ya29.fake-1"] * 3 + ["Bearer ya29.fake-2"]
        assert google.members(GROUP) == {}


async def test_a_refused_token_is_renewed_once(google: FakeGoogle) -> None:
    request = grant("google_group", group_email=GROUP)
    async with strategy(google) as gg:
        await gg.escalate(request)
        google.revoke_tokens()
        await gg.deescalate(request)
        assert token_calls(google) == 2
        assert [call.status for call in google.calls if call.path != TOKEN_PATH] == [
            200,
            401,
            204,
        ]
    # Tokens Google refuses at once: one renewal, then a permanent error.
    with FakeGoogle(token_lifetime=0) as refusing:
        refusing.add_group(GROUP)
        async with strategy(refusing) as gg:
            with pytest.raises(StrategyError) as caught:
                await gg.escalate(request)
        assert caught.value.permanent and not caught.value.reached_target
        assert str(caught.value) == (
            f"escalate (group {GROUP}): Google refused the access token (HTTP 401: Request "
            "had invalid authentication credentials.); target admin"
        )
        assert token_calls(refusing) == 2
        assert refusing.members(GROUP) == {}


async def test_grants_and_revokes_are_idempotent(google: FakeGoogle) -> None:
    request = grant("google_group", group_email=GROUP)
    async with strategy(google) as gg:
        assert isinstance(gg, IdentityResolver) and isinstance(gg, AccessLister)
        assert await gg.remote_identity(CAROL) == CAROL
        await gg.escalate(request)
        await gg.escalate(request)
        # No role set: MEMBER.
        assert google.members(GROUP) == {DANA: "MEMBER", CAROL: "MEMBER"}
        await gg.deescalate(request)
        await gg.deescalate(request)
        assert google.members(GROUP) == {DANA: "MEMBER"}
        # A group gone: nobody holds its access, so the revoke is done.
        await gg.deescalate(grant("google_group", group_email="gone@acme.example"))
    assert [call.status for call in google.seen("POST", MEMBERS)] == [200, 409]
    assert [call.status for call in google.seen("DELETE", f"{MEMBERS}/{CAROL}")] == [204, 404]


async def test_members_are_listed_across_pages(google: FakeGoogle) -> None:
    everyone = {f"user{n}@acme.example": "MEMBER" for n in range(5)}
    google.add_group(GROUP, {**everyone, "Owner@Acme.example": "OWNER"})
    google.page_size_cap = 2
    target = grant("google_group", group_email=GROUP).target
    async with strategy(google) as gg:
        assert await gg.holders(target) == {*everyone, "owner@acme.example"}
        await gg.remove_holder(target, "user3@acme.example")
        await gg.remove_holder(target, "user3@acme.example")
    pages = google.seen("GET", MEMBERS)
    assert [call.query.get("pageToken") for call in pages] == [None, ["2"], ["4"]]
    assert "user3@acme.example" not in google.members(GROUP)


async def test_throttling_and_server_errors_are_retried(tmp_path: Path, google: FakeGoogle) -> None:
    google.fail("POST", TOKEN_PATH, 503, headers={"Retry-After": "0"})
    google.fail("POST", MEMBERS, 429, headers={"Retry-After": "0"})
    google.fail("POST", MEMBERS, 500, body={"error": {"code": 500, "message": "Backend Error"}})
    google.fail("DELETE", MEMBERS, 502, headers={"Retry-After": "0"})
    async with symbox_on(tmp_path, google) as h:
        run_id = await h.request(target="prod-db")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert CAROL in google.members(GROUP)
        revoked = await h.call("POST", "/api/v1/events/deescalate", CAROL, {"run_id": run_id})
        assert revoked.status_code == 200, revoked.text
        await h.wait_status(run_id, "deescalated")
    # Successful reads are left out: reconciliation at start lists the members too.
    assert [(c.method, c.status) for c in google.calls if (c.method, c.status) != ("GET", 200)] == [
        ("POST", 503),
        ("POST", 200),
        ("POST", 429),
        ("POST", 500),
        ("POST", 200),
        ("DELETE", 502),
        ("DELETE", 204),
    ]
    assert google.members(GROUP) == {DANA: "MEMBER"}


async def test_an_admin_without_delegation_errors_the_run_naming_the_group_not_the_key(
    tmp_path: Path, google: FakeGoogle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="symbox")
    async with symbox_on(tmp_path, google, admin="someone@acme.example") as h:
        run_id = await h.request(target="prod-db")
        await h.approve(run_id)
        run = await h.wait_status(run_id, "errored")
    assert run["error"].startswith(f"escalate (group {GROUP}): Google: Google refused an access")
    assert (
        "acting as someone@acme.example (HTTP 401: unauthorized_client: Client is" in (run["error"])
    )
    assert google.members(GROUP) == {DANA: "MEMBER"}
    shown = [str(run), (tmp_path / "data" / "audit.jsonl").read_text()]
    shown += [record.getMessage() for record in caplog.records]
    for bit in [*secret_bits(google.key()), "assertion", "ya29."]:
        assert all(bit not in text for text in shown), bit


async def test_permanent_failures_name_their_cause(google: FakeGoogle) -> None:
    request = grant("google_group", group_email=GROUP)
    google.fail("POST", MEMBERS, 403, body={"error": {"code": 403, "message": "Not Authorized"}})
    async with strategy(google) as gg:
        with pytest.raises(StrategyError) as caught:
            await gg.escalate(request)
        assert caught.value.permanent and not caught.value.reached_target
        assert str(caught.value) == (
            f"escalate (group {GROUP}): Google denied POST {MEMBERS}: the admin the service "
            "account acts as, or the delegated scope, lacks the permission (HTTP 403: Not "
            "Authorized); target admin"
        )
        with pytest.raises(StrategyError) as caught:
            await gg.escalate(grant("google_group", group_email="gone@acme.example"))
        assert caught.value.permanent
        assert "(HTTP 404: Resource Not Found: groupKey); target admin" in str(caught.value)
        # Still failing after the retries: transient.
        google.fail("DELETE", MEMBERS, 503, times=3)
        with pytest.raises(StrategyError) as caught:
            await gg.deescalate(request)
        assert not caught.value.permanent
        assert f"Google DELETE {MEMBERS}/{CAROL} failed: HTTP 503" in str(caught.value)
        with pytest.raises(StrategyError) as caught:
            await gg.escalate(grant("google_group", group_email=GROUP, role="member"))
        assert caught.value.permanent and "settings.role must be one of" in str(caught.value)
    # A key that is not one: permanent, and nothing of it shown.
    broken = json.loads(google.key())
    broken["private_key"] = broken["private_key"].replace("PRIVATE KEY", "CERTIFICATE")
    async with strategy(google, key=json.dumps(broken)) as gg:
        with pytest.raises(StrategyError) as caught:
            await gg.escalate(request)
    assert caught.value.permanent
    assert str(caught.value) == (
        f"escalate (group {GROUP}): Google: the service account key's private_key is not an "
        "RSA private key (PEM)"
    )
    assert google.members(GROUP) == {DANA: "MEMBER"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", " is not JSON (a service account's key file)"),
        ('{"type": "authorized_user"}', ' is not a service account key ("type" is not'),
        (
            '{"type": "service_account", "client_email": "a@b.example"}',
            " lacks private_key, token_uri (a service account's key file has them)",
        ),
        (
            json.dumps(
                {"client_email": "a@b.example", "private_key": "x", "token_uri": "https://"}
            ),
            "'s token_uri is not a URL with a host",
        ),
    ],
)
async def test_a_key_file_that_is_not_one_says_what_it_lacks(text: str, problem: str) -> None:
    with pytest.raises(StrategyError) as caught:
        load_account(text)
    assert caught.value.permanent
    assert str(caught.value).startswith(f"the service account key{problem}")


async def test_a_key_signed_by_another_account_is_refused(google: FakeGoogle) -> None:
    another = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = key_json(google.token_uri, another)
    async with strategy(google, key=other) as gg:
        with pytest.raises(StrategyError) as caught:
            await gg.escalate(grant("google_group", group_email=GROUP))
    assert caught.value.permanent
    assert "(HTTP 400: invalid_grant: Invalid JWT Signature.)" in str(caught.value)
    assert google.assertions == []


async def test_reconciliation_removes_a_left_behind_member(
    tmp_path: Path, google: FakeGoogle
) -> None:
    async with symbox_on(tmp_path, google) as h:
        run_id = await h.request(target="prod-db", duration="10m")
        await h.approve(run_id)
        await h.advance(600)
        await h.wait_status(run_id, "deescalated")
        # Put back by hand after the revoke: reconciliation knows whose grant it was.
        google.add_group(GROUP, {DANA: "MEMBER", CAROL: "MANAGER"})
        findings = await h.app.reconciler.reconcile()
        # Dana was never granted by symbox: reported when symbox started, and left alone.
        assert findings == [Finding("google", "prod-db", CAROL, "stale_removed", CAROL)]
        assert google.members(GROUP) == {DANA: "MEMBER"}
        assert await h.app.reconciler.reconcile() == []


async def test_the_key_may_live_in_secrets_manager(
    tmp_path: Path, google: FakeGoogle, aws: MotoAws
) -> None:
    await aws.connection.secretsmanager().create_secret(Name=KEY_PATH, SecretString=google.key())
    text = (
        google_config(google.url).replace(
            'service_account_key = env("GOOGLE_SERVICE_ACCOUNT_KEY")',
            "service_account_key_secret = sym_secret.google_key.id",
        )
        + f"""
resource "sym_secrets" "aws" {{
  type     = "aws_secrets_manager"
  name     = "aws"
  settings = {{ region = "{REGION}", endpoint_url = "{aws.server.url}" }}
}}

resource "sym_secret" "google_key" {{
  path      = "{KEY_PATH}"
  source_id = sym_secrets.aws.id
}}
"""
    )
    # Nothing in the environment: the key can only come from Secrets Manager.
    async with harness(tmp_path, config_text=lambda _: text) as h:
        run_id = await h.request(target="prod-db", duration="10m")
        assert (await h.approve(run_id)).json()["status"] == "escalated"
        assert CAROL in google.members(GROUP)
    assert token_calls(google) == 1
