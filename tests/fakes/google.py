"""A fake Google on loopback: an OAuth token endpoint that checks signed JWTs, and the
Admin SDK Directory API's group members."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.rest_server import Answer, Call, FakeRestServer

ADMIN = "admin@acme.example"
CLIENT_EMAIL = "symbox@acme-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/admin.directory.group.member"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/token"
MEMBERS = "/admin/directory/v1/groups/{group}/members"
# The assertion's lifetime Google accepts at most, and the clock skew it forgives.
MAX_LIFETIME = 3600
SKEW = 300

_KEY: rsa.RSAPrivateKey | None = None


def rsa_key() -> rsa.RSAPrivateKey:
    """An RSA key for the tests' service account (made once: generating one is slow)."""
    global _KEY
    if _KEY is None:
        _KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEY


def key_json(token_uri: str, key: rsa.RSAPrivateKey | None = None) -> str:
    """A service account's JSON key file, as Google's console downloads it."""
    pem = (key or rsa_key()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "acme-project",
            "private_key_id": "f3c1a2b4",
            "private_key": pem.decode(),
            "client_email": CLIENT_EMAIL,
            "client_id": "104857600000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }
    )


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _error(status: int, message: str) -> Answer:
    # The Directory API's error shape.
    return Answer(status, {"error": {"code": status, "message": message, "errors": []}})


def _oauth_error(status: int, error: str, description: str) -> Answer:
    return Answer(status, {"error": error, "error_description": description})


class FakeGoogle(FakeRestServer):
    """Issues access tokens at ``/token`` for assertions signed by the service account's
    key and impersonating ``admin``, and serves group members to holders of those tokens.

    ``clock`` is the fake's "now" for checking ``iat``/``exp`` and expiring its tokens.
    ``groups`` maps a group's email to its members (email -> role), in insertion order.
    """

    def __init__(
        self,
        *,
        admin: str = ADMIN,
        public_key: rsa.RSAPublicKey | None = None,
        clock: Callable[[], float] = time.time,
        token_lifetime: int = 3599,
    ) -> None:
        super().__init__()
        self.admin = admin
        self.public_key = public_key or rsa_key().public_key()
        self.clock = clock
        self.token_lifetime = token_lifetime
        self.groups: dict[str, dict[str, str]] = {}
        # token -> when it expires
        self.tokens: dict[str, float] = {}
        self.assertions: list[dict[str, Any]] = []
        self.issued = 0
        self.page_size_cap = 200

    @property
    def token_uri(self) -> str:
        """Where the service account's key says tokens come from."""
        return f"{self.url}{TOKEN_PATH}"

    def key(self) -> str:
        """A JSON key of the service account this fake trusts."""
        return key_json(self.token_uri)

    def add_group(self, group: str, members: dict[str, str] | None = None) -> None:
        """Create a group with ``members`` (email -> role)."""
        with self.lock:
            # Google keeps member emails in lower case, whatever case they were added in.
            self.groups[group] = {email.lower(): role for email, role in (members or {}).items()}

    def members(self, group: str) -> dict[str, str]:
        """The group's members now (email -> role)."""
        with self.lock:
            return dict(self.groups[group])

    def revoke_tokens(self) -> None:
        """Make every issued token invalid, as a revocation would."""
        with self.lock:
            self.tokens.clear()

    def authorized(self, headers: dict[str, str]) -> bool:
        """Checked per route: the token endpoint takes no bearer token."""
        return True

    def route(self, call: Call) -> Answer:
        """The token endpoint and the members endpoints; anything else is a 404."""
        if call.path == TOKEN_PATH:
            return self._token(call) if call.method == "POST" else _error(405, "POST only")
        bearer = call.headers.get("authorization", "").removeprefix("Bearer ")
        expires = self.tokens.get(bearer)
        if expires is None or self.clock() >= expires:
            return _error(401, "Request had invalid authentication credentials.")
        parts = call.path.split("/")
        # /admin/directory/v1/groups/{group}/members[/{member}]
        if parts[1:5] != ["admin", "directory", "v1", "groups"] or parts[6:7] != ["members"]:
            return _error(404, "unexpected endpoint")
        group, member = parts[5], (parts[7] if len(parts) > 7 else None)
        if group not in self.groups:
            return _error(404, "Resource Not Found: groupKey")
        members = self.groups[group]
        if call.method == "GET" and member is None:
            return self._list(members, call)
        if call.method == "POST" and member is None:
            body = call.body if isinstance(call.body, dict) else {}
            email, role = body.get("email"), body.get("role", "MEMBER")
            if not isinstance(email, str) or role not in ("MEMBER", "MANAGER", "OWNER"):
                return _error(400, "Invalid Input: member")
            if email.lower() in members:
                return _error(409, "Member already exists.")
            members[email.lower()] = role
            return Answer(200, {"kind": "admin#directory#member", "email": email, "role": role})
        if call.method == "DELETE" and member is not None:
            if members.pop(member.lower(), None) is None:
                return _error(404, "Resource Not Found: memberKey")
            return Answer(204)
        return _error(405, "method not allowed")

    def _list(self, members: dict[str, str], call: Call) -> Answer:
        size = min(int(call.query.get("maxResults", ["200"])[0]), self.page_size_cap)
        start = int(call.query.get("pageToken", ["0"])[0])
        emails = list(members)
        page = [
            {
                "kind": "admin#directory#member",
                "email": email,
                "role": members[email],
                "type": "USER",
                "status": "ACTIVE",
            }
            for email in emails[start : start + size]
        ]
        body: dict[str, Any] = {"kind": "admin#directory#members"}
        if page:
            body["members"] = page
        if start + size < len(emails):
            body["nextPageToken"] = str(start + size)
        return Answer(200, body)

    def _token(self, call: Call) -> Answer:
        form = call.body if isinstance(call.body, dict) else {}
        if form.get("grant_type") != GRANT_TYPE:
            return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type")
        claims = self._verified(str(form.get("assertion", "")))
        if claims is None:
            return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        self.assertions.append(claims)
        now = self.clock()
        if claims.get("iss") != CLIENT_EMAIL or claims.get("aud") != self.token_uri:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if claims.get("scope") != SCOPE:
            return _oauth_error(400, "invalid_scope", "Invalid OAuth scope.")
        issued, expires = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(issued, int)
            or not isinstance(expires, int)
            or expires - issued > MAX_LIFETIME
            or issued > now + SKEW
            or expires < now - SKEW
        ):
            return _oauth_error(
                400, "invalid_grant", "Invalid JWT: Token must be a short-lived token"
            )
        if claims.get("sub") != self.admin:
            return _oauth_error(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
            )
        self.issued += 1
        token = f"ya29.fake-{self.issued}"
        self.tokens[token] = now + self.token_lifetime
        return Answer(
            200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _verified(self, assertion: str) -> dict[str, Any] | None:
        """The JWT's claims if its RS256 signature is the service account's, else None."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            self.public_key.verify(
                _unb64(parts[2]),
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, InvalidSignature):
            return None
        if header.get("alg") != "RS256" or not isinstance(claims, dict):
            return None
        return claims
