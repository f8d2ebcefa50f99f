"""Access tokens for a Google service account acting as a Workspace admin (RFC 7523).

The service account signs a JWT (RS256) whose ``sub`` is the admin it impersonates
through domain-wide delegation, and trades it at the key's ``token_uri`` for an access
token. Neither the key nor a token ever goes into a message or a log line.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from symbox.strategies.base import StrategyError
from symbox.strategies.rest import RestCaller, RetryTiming, detail

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

# Adding and removing group members is all symbox does; this is the scope to delegate.
SCOPE = "https://www.googleapis.com/auth/admin.directory.group.member"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google accepts assertions that live at most an hour.
ASSERTION_LIFETIME = 3600
# A token is renewed this long before Google says it expires, so a call made with it
# does not reach Google just after it lapsed.
REFRESH_MARGIN = 60.0
# When the answer carries no expires_in (Google always sends one): assume a short life.
DEFAULT_LIFETIME = 300.0

# The service account's JSON key, read when a token is needed; raises StrategyError.
KeySource = Callable[[], Awaitable[str]]

# What symbox reads from a service account's JSON key; the rest of the file is ignored.
KEY_FIELDS = ("client_email", "private_key", "token_uri")


def key_fields(text: str) -> dict[str, str]:
    """The fields symbox uses from a service account's JSON key; ValueError says what is wrong."""
    try:
        key = json.loads(text)
    except ValueError:
        raise ValueError("is not JSON (a service account's key file)") from None
    if not isinstance(key, dict):
        raise ValueError("is not a JSON object (a service account's key file)")
    if key.get("type", "service_account") != "service_account":
        raise ValueError('is not a service account key ("type" is not "service_account")')
    missing = [name for name in KEY_FIELDS if not isinstance(key.get(name), str) or not key[name]]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)} (a service account's key file has them)")
    if not key["token_uri"].startswith(("http://", "https://")):
        raise ValueError("has a token_uri that is not an http:// or https:// URL")
    fields = {name: str(key[name]) for name in KEY_FIELDS}
    if isinstance(key.get("private_key_id"), str):
        fields["private_key_id"] = key["private_key_id"]
    return fields


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a service account key symbox uses."""

    client_email: str
    token_uri: str
    key_id: str | None
    private_key: RSAPrivateKey

    def __repr__(self) -> str:
        # The default repr would show the key object; only the account is safe to show.
        return f"ServiceAccount({self.client_email})"


def load_account(text: str) -> ServiceAccount:
    """The service account in a JSON key, or a permanent StrategyError saying what is wrong."""
    # Imported here: cryptography is only needed once a Google strategy asks for a token,
    # and importing it costs start-up time every other configuration would pay. Anything
    # but a StrategyError escaping a strategy would stop the service, hence the wrapping.
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    except ImportError:
        raise _bad_key("signing needs the cryptography package, which is not installed") from None
    try:
        fields = key_fields(text)
    except ValueError as error:
        raise _bad_key(f"the service account key {error}") from None
    try:
        host = httpx.URL(fields["token_uri"]).host
    except httpx.InvalidURL:
        host = ""
    if not host:
        raise _bad_key("the service account key's token_uri is not a URL with a host")
    try:
        private = serialization.load_pem_private_key(fields["private_key"].encode(), None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        private = None
    if not isinstance(private, RSAPrivateKey):
        raise _bad_key("the service account key's private_key is not an RSA private key (PEM)")
    return ServiceAccount(
        fields["client_email"], fields["token_uri"], fields.get("private_key_id"), private
    )


def assertion(account: ServiceAccount, subject: str, now: float) -> str:
    """The signed JWT that asks ``token_uri`` for a token acting as ``subject``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if account.key_id:
        header["kid"] = account.key_id
    issued = int(now)
    claims = {
        "iss": account.client_email,
        "sub": subject,
        "scope": SCOPE,
        "aud": account.token_uri,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
    }
    signing_input = f"{_segment(header)}.{_segment(claims)}".encode("ascii")
    signature = account.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode('ascii')}.{_b64(signature)}"


class GoogleTokens:
    """Access tokens for one service account acting as ``subject``: fetched when first
    needed, kept until shortly before they expire, fetched again after ``forget``.

    ``clock`` is wall time (epoch seconds): it dates the assertion Google checks, and
    times the cache; a clock stepped back only keeps a token longer, and the 401 that
    follows makes the caller ``forget`` it.
    """

    def __init__(
        self,
        key: KeySource,
        subject: str,
        client: httpx.AsyncClient,
        *,
        timing: RetryTiming | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._subject = subject
        self._client = client
        self._timing = timing
        self._clock = clock
        self._lock = anyio.Lock()
        self._account: tuple[str, ServiceAccount] | None = None
        self._token: str | None = None
        self._expires = 0.0

    async def token(self) -> str:
        """A current access token; raises StrategyError (never naming the key) if none."""
        async with self._lock:
            if self._token is not None and self._clock() < self._expires - REFRESH_MARGIN:
                return self._token
            account = await self._load()
            self._token, self._expires = await self._fetch(account)
            return self._token

    def forget(self, token: str) -> None:
        """Drop ``token`` (refused by Google): the next call fetches another."""
        if token == self._token:
            self._token = None

    async def headers(self) -> Mapping[str, str]:
        """``Authorization: Bearer <token>``, for RestCaller's ``auth``."""
        return {"Authorization": f"Bearer {await self.token()}"}

    async def _load(self) -> ServiceAccount:
        text = await self._key()
        # A rotated key (a new value in the secret) is parsed again; the same one is not.
        if self._account is None or self._account[0] != text:
            self._account = (text, load_account(text))
        return self._account[1]

    async def _fetch(self, account: ServiceAccount) -> tuple[str, float]:
        url = httpx.URL(account.token_uri)
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        path = url.raw_path.decode("ascii") or "/"
        rest = RestCaller(
            "Google", origin, {"Accept": "application/json"}, self._client, timing=self._timing
        )
        now = self._clock()
        form = {"grant_type": GRANT_TYPE, "assertion": assertion(account, self._subject, now)}
        response = await rest.send("POST", path, action="access token", data=form)
        if not response.is_success:
            raise StrategyError(
                f"Google refused an access token for {account.client_email} acting as "
                f"{self._subject} (HTTP {response.status_code}{detail(response)}); check the "
                f"key, admin_email and the domain-wide delegation of {SCOPE}",
                permanent=True,
                reached_target=False,
            )
        body = _json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise StrategyError(
                "Google's token endpoint answered without an access_token", reached_target=False
            )
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        seconds = (
            float(lifetime)
            if isinstance(lifetime, int | float) and not isinstance(lifetime, bool)
            else DEFAULT_LIFETIME
        )
        return token, now + seconds


def _bad_key(message: str) -> StrategyError:
    return StrategyError(message, permanent=True, reached_target=False)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _segment(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
