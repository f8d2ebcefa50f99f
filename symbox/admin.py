"""Administrative actions shared by the CLI and tests: issuing and revoking tokens."""

from __future__ import annotations

import uuid

from symbox.audit.entry import system_entry
from symbox.engine.model import Actor
from symbox.engine.people import canonical_email
from symbox.store.txn import WriteTxn
from symbox.store.writer import Writer
from symbox.tokens import TokenRecord, hash_secret, new_secret


async def issue_token(
    writer: Writer,
    *,
    kind: str,
    subject: str,
    label: str | None,
    now: float,
    expires_in: int | None,
    issued_by: Actor,
) -> tuple[str, TokenRecord]:
    """Create a token; return its secret (shown once, never stored) and its record.

    A user token's email must be one symbox accepts (InvalidEmail, a ValueError, if not).
    """
    if kind not in ("user", "bot"):
        raise ValueError(f"token kind must be user or bot, not {kind!r}")
    secret = new_secret()
    record = TokenRecord(
        id=f"tok_{uuid.uuid4().hex[:16]}",
        secret_hash=hash_secret(secret),
        kind=kind,
        subject=canonical_email(subject) if kind == "user" else subject.strip(),
        label=label,
        created_at=now,
        expires_at=None if expires_in is None else now + expires_in,
        revoked_at=None,
    )
    entry = system_entry(
        "token",
        "token_issue",
        actor=issued_by,
        at=now,
        channel="cli",
        fields={
            "token_id": record.id,
            "kind": record.kind,
            "subject": record.subject,
            "label": label,
            "expires_at": record.expires_at,
        },
    )

    def job(txn: WriteTxn) -> None:
        txn.insert_token(record)
        txn.append_audit(entry)

    await writer.submit(job)
    return secret, record


async def revoke_token(writer: Writer, token_id: str, *, now: float, revoked_by: Actor) -> bool:
    """Revoke a token by id; return False if there was no such live token."""
    entry = system_entry(
        "token",
        "token_revoke",
        actor=revoked_by,
        at=now,
        channel="cli",
        fields={"token_id": token_id},
    )

    def job(txn: WriteTxn) -> bool:
        if not txn.revoke_token(token_id, now):
            return False
        txn.append_audit(entry)
        return True

    return await writer.submit(job)
