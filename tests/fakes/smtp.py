"""An SMTP server on loopback (aiosmtpd) that keeps every message it accepts."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.loopback import Served


@dataclass
class Mail:
    """One accepted message: who the envelope named, and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class MailboxState:
    """Accepted messages, and how the server answers the next ones."""

    mails: list[Mail] = field(default_factory=list)
    # SMTP replies to give DATA, in order, before accepting again ("451 busy").
    fail_with: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler:
    def __init__(self, state: MailboxState) -> None:
        self._state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._state.lock:
            if self._state.fail_with:
                return self._state.fail_with.pop(0)
            content = envelope.original_content or b""
            parsed = message_from_bytes(content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self._state.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 OK"


def self_signed(folder: Path) -> Path:
    """A certificate for 127.0.0.1 signed by its own key: NAME.pem, with its key in NAME.key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "smtp.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer(Served):
    """aiosmtpd's Controller on 127.0.0.1; with ``login`` it accepts only that login (no TLS)."""

    def __init__(
        self, login: tuple[str, str] | None = None, certificate: Path | None = None
    ) -> None:
        self.state = MailboxState()
        self.port = _free_port()
        options: dict[str, Any] = {}
        if certificate is not None:
            # STARTTLS required: a client that does not upgrade cannot send.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate, certificate.with_suffix(".key"))
            options = {"tls_context": context, "require_starttls": True}
        if login is not None:
            options |= {
                "authenticator": self._authenticator(login),
                # The test server has no certificate: logins go in the clear on loopback.
                # Login stays optional (aiosmtpd warns about a required login without
                # TLS); the tests check that it happened, and a wrong one is refused.
                "auth_require_tls": False,
            }
        self._controller = Controller(
            _Handler(self.state), hostname="127.0.0.1", port=self.port, **options
        )

    def _authenticator(self, login: tuple[str, str]) -> Any:
        state = self.state

        def check(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            if ok:
                with state.lock:
                    state.logins.append(login[0])
            return AuthResult(success=ok)

        return check

    def mails(self) -> list[Mail]:
        """The accepted messages so far."""
        with self.state.lock:
            return list(self.state.mails)

    def start(self) -> Self:
        """Start serving (aiosmtpd runs its own event loop in a thread)."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._controller.stop()
