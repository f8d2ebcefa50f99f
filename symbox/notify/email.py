"""The ``smtp`` integration: one plain-text (with an HTML alternative) email per notification."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from symbox.config.model import Integration, Secret
from symbox.notify.model import Queued, SendError
from symbox.notify.render import email_html, subject, text

log = logging.getLogger(__name__)

DEFAULT_PORT = 587
# Port 465 speaks TLS from the first byte ("implicit TLS"), not STARTTLS.
IMPLICIT_TLS_PORT = 465
DEFAULT_TIMEOUT = 30.0


class EmailSender:
    """Sends notifications through one SMTP server, with STARTTLS and a login if configured."""

    def __init__(self, integration: Integration) -> None:
        settings = integration.settings
        self._host = str(settings["host"])
        port = settings.get("port")
        self._port = port if isinstance(port, int) else DEFAULT_PORT
        self._starttls = settings.get("starttls", True) is not False
        self._sender = str(settings["from"])
        self._username = settings.get("username")
        self._password = settings.get("password")
        # The certificates to trust instead of the system's (a relay with a private CA).
        ca_file = settings.get("ca_file")
        self._ca_file = ca_file if isinstance(ca_file, str) else None
        timeout = settings.get("timeout")
        self._timeout = float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT

    def _reveal(self, value: object) -> str | None:
        if isinstance(value, Secret):
            return value.reveal()
        return value if isinstance(value, str) else None

    async def send(self, queued: Queued) -> None:
        """Hand the email to the SMTP server; its acceptance is delivery."""
        message = queued.outgoing.message
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = queued.outgoing.recipient
        email["Subject"] = subject(message)
        email["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2].strip("> "))
        # Lets mail rules and scripts find the run without parsing the body.
        email["X-Symbox-Run"] = str(message["run_id"])
        email.set_content(text(message))
        email.add_alternative(email_html(message), subtype="html")
        implicit = self._port == IMPLICIT_TLS_PORT
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                use_tls=implicit,
                start_tls=self._starttls and not implicit,
                username=self._reveal(self._username),
                password=self._reveal(self._password),
                timeout=self._timeout,
                cert_bundle=self._ca_file,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            # Every recipient refused: a 5xx refusal will be the same next time.
            codes = [refused.code for refused in error.recipients]
            raise SendError(
                f"{self._host}:{self._port} refused the recipient ({codes})",
                permanent=all(500 <= code < 600 for code in codes),
            ) from None
        except aiosmtplib.SMTPException as error:
            # A login the server refused, a server that is down or busy: all may pass, and
            # the retries' bound ends it. The message never holds the password.
            raise SendError(
                f"{self._host}:{self._port}: {type(error).__name__}: {error}"[:300]
            ) from None
        except OSError as error:
            raise SendError(
                f"{self._host}:{self._port}: {type(error).__name__}: {error.strerror or error}"
            ) from None
