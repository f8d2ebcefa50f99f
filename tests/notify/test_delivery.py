"""Webhook and email notifications from a running symbox: bodies, retries, restarts, metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from symbox.notify.deliver import NotifyRetry
from tests.fakes.clock import FakeClock
from tests.fakes.configs import access_config
from tests.fakes.smtp import SmtpServer, self_signed
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness import Harness, harness

pytestmark = pytest.mark.anyio

HOOK_SECRET = "webhook-secret"
SMTP_PASSWORD = "smtp-password-never-logged"
ENV = {"HOOK_SECRET": HOOK_SECRET, "SMTP_PASSWORD": SMTP_PASSWORD}


def webhook(key: str, url: str, shape: str = "json") -> str:
    """A webhook integration posting to ``url`` in ``shape``, signed with HOOK_SECRET."""
    return (
        f'resource "sym_integration" "{key}" {{\n  type = "webhook"\n  name = "{key}"\n'
        f'  external_id = "{key}"\n  settings = {{\n    url = "{url}"\n'
        f'    format = "{shape}"\n    secret = env("HOOK_SECRET")\n  }}\n}}\n'
    )


def smtp(port: int, login: bool = False, ca_file: Path | None = None) -> str:
    """An smtp integration for the test server on ``port``: STARTTLS trusting ``ca_file``,
    else in the clear (loopback only)."""
    credentials = '    username = "symbox"\n    password = env("SMTP_PASSWORD")\n' if login else ""
    tls = f'    ca_file = "{ca_file}"\n' if ca_file else "    starttls = false\n"
    return (
        'resource "sym_integration" "mail" {\n  type = "smtp"\n  name = "mail"\n'
        f'  external_id = "mail"\n  settings = {{\n    host = "127.0.0.1"\n    port = {port}\n'
        f'{tls}    from = "symbox@example.com"\n{credentials}  }}\n}}\n'
    )


def notifying(integrations: str, notify: str, implementation: str = "") -> Callable[[str], str]:
    """``access_config`` with ``integrations`` and the access flow's ``notify_ids``."""

    def text(receiver_url: str) -> str:
        config = access_config(receiver_url, extra=integrations).replace(
            'request_ttl = "1h"', f'request_ttl = "1h"\n    notify_ids = [{notify}]', 1
        )
        if implementation:
            config = config.replace(
                'implementation = "# no hooks"', 'implementation = file("impl.py")', 1
            )
        return config

    return text


async def metric(h: Harness, line: str) -> bool:
    """Whether /metrics has ``line`` exactly."""
    return line in (await h.http.get("/metrics")).text.splitlines()


async def attempted(h: Harness, run_id: str, attempts: int) -> None:
    """Wait until each of the run's notifications has had ``attempts`` attempts recorded."""

    async def done() -> bool:
        rows = await h.app.reader.run_notifications(run_id)
        return bool(rows) and all(row["attempts"] == attempts for row in rows)

    await h.wait_for(done, f"{attempts} attempt(s) to be recorded")


async def test_a_request_is_posted_to_the_webhook_and_emailed_to_the_approvers(
    tmp_path: Path,
) -> None:
    with WebhookReceiver(HOOK_SECRET) as hook, SmtpServer() as mail:
        config = notifying(
            webhook("ops", hook.url + "/ops") + smtp(mail.port),
            "sym_integration.ops.id, sym_integration.mail.id",
        )
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = await h.request(reason="deploy hotfix")
            await h.wait_for(lambda: hook.state.accepted() and len(mail.mails()) == 2, "both")
            post = hook.state.accepted()[0]
            assert post.signature_ok is True
            assert post.path == "/ops"
            body = post.body
            assert body["type"] == "symbox.request"
            assert (body["run_id"], body["flow"], body["requester"]) == (
                run_id,
                "access",
                "carol@example.com",
            )
            assert (body["target"], body["reason"]) == ("prod-db", "deploy hotfix")
            assert body["fields"]["duration"] == 600
            assert body["commands"]["approve"] == f"symbox approve {run_id}"
            # vars.approvers: the two people get email; "bot:ci" is no address.
            mails = mail.mails()
            assert sorted(to for item in mails for to in item.rcpt_tos) == [
                "alice@example.com",
                "bob@example.com",
            ]
            message = mails[0].message
            assert message["Subject"] == "access access request from carol@example.com"
            assert message["From"] == "symbox@example.com"
            plain = message.get_body(("plain",))
            assert plain is not None
            content = plain.get_content()
            assert f"symbox approve {run_id}" in content
            assert "Reason: deploy hotfix" in content
            assert "Duration: 10m" in content
            await h.wait_for(
                lambda: metric(h, 'symbox_notifications_total{kind="email",outcome="delivered"} 2'),
                "the email count",
            )
            assert await metric(
                h, 'symbox_notifications_total{kind="webhook",outcome="delivered"} 1'
            )
            assert await metric(h, 'symbox_notifications_pending{kind="webhook"} 0')
            # The request is decided as before: delivery was never in its way.
            assert (await h.approve(run_id)).status_code == 200
            await h.wait_status(run_id, "escalated")
            assert len(hook.state.posts) == 1


async def test_teams_and_google_chat_get_bodies_their_webhooks_accept(tmp_path: Path) -> None:
    with WebhookReceiver(HOOK_SECRET) as hook:
        config = notifying(
            webhook("teams", hook.url + "/teams", "teams")
            + webhook("chat", hook.url + "/chat", "gchat"),
            "sym_integration.teams.id, sym_integration.chat.id",
        )
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            await h.wait_for(lambda: len(hook.state.accepted()) == 2, "two posts")
            posts = {post.path: post for post in hook.state.accepted()}
            assert all(post.signature_ok for post in posts.values())
            teams = posts["/teams"].body
            assert teams["type"] == "message"
            (attachment,) = teams["attachments"]
            assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
            card = attachment["content"]
            assert card["type"] == "AdaptiveCard"
            assert card["body"][0]["text"] == "access access request from carol@example.com"
            facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
            assert facts["Requester"] == "carol@example.com"
            assert facts["Run"] == run_id
            assert any(item.get("text") == f"symbox approve {run_id}" for item in card["body"])
            chat = posts["/chat"].body
            assert list(chat) == ["text"]
            assert chat["text"].startswith("access access request from carol@example.com\n")
            assert f"symbox approve {run_id}" in chat["text"]


async def test_a_failing_webhook_is_retried_with_backoff_until_it_takes_the_post(
    tmp_path: Path,
) -> None:
    with WebhookReceiver(HOOK_SECRET) as hook:
        hook.state.fail_with = [503, 503]
        config = notifying(webhook("ops", hook.url + "/ops"), "sym_integration.ops.id")
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            await attempted(h, run_id, 1)
            rows = await h.app.reader.run_notifications(run_id)
            assert rows[0]["attempts"] == 1
            assert "HTTP 503" in rows[0]["last_error"]
            assert await metric(h, 'symbox_notifications_pending{kind="webhook"} 1')
            # Nothing more happens until the backoff (10 s, +-50%) has passed.
            await h.advance(4)
            assert len(hook.state.posts) == 1
            await h.advance(12)
            await attempted(h, run_id, 2)
            await h.advance(35)
            await h.wait_for(lambda: hook.state.accepted(), "the delivery")
            assert len(hook.state.posts) == 3
            await h.wait_for(
                lambda: metric(
                    h, 'symbox_notifications_total{kind="webhook",outcome="delivered"} 1'
                ),
                "the delivered count",
            )
            assert await metric(h, 'symbox_notifications_total{kind="webhook",outcome="retried"} 2')
            assert await metric(h, 'symbox_notifications_pending{kind="webhook"} 0')
            assert (await h.run(run_id))["status"] == "requested"


async def test_a_notification_failing_past_its_bound_ends_failed_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with WebhookReceiver(HOOK_SECRET) as hook:
        hook.state.fail_with = [500] * 5
        config = notifying(webhook("ops", hook.url + "/ops"), "sym_integration.ops.id")
        retry = NotifyRetry(first=10.0, maximum=20.0, attempts=2)
        async with harness(
            tmp_path, config_text=config, monkeypatch_env=ENV, notify_retry=retry
        ) as h:
            run_id = await h.request()
            await attempted(h, run_id, 1)
            await h.advance(20)
            await h.wait_for(
                lambda: metric(h, 'symbox_notifications_total{kind="webhook",outcome="failed"} 1'),
                "the failure",
            )
            await h.advance(60)
            assert len(hook.state.posts) == 2
            (row,) = await h.app.reader.run_notifications(run_id)
            assert row["failed_at"] is not None and row["next_attempt_at"] is None
            assert any(
                record.levelno == logging.ERROR
                and record.getMessage() == ("notification failed for good")
                for record in caplog.records
            )
            assert (await h.approve(run_id)).status_code == 200


async def test_a_refused_post_is_not_retried(tmp_path: Path) -> None:
    with WebhookReceiver(HOOK_SECRET) as hook:
        hook.state.fail_with = [404]
        config = notifying(webhook("ops", hook.url + "/ops"), "sym_integration.ops.id")
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            await h.wait_for(
                lambda: metric(h, 'symbox_notifications_total{kind="webhook",outcome="failed"} 1'),
                "the failure",
            )
            (row,) = await h.app.reader.run_notifications(run_id)
            assert row["attempts"] == 1 and "HTTP 404" in row["last_error"]


async def test_a_notification_due_when_symbox_stops_is_sent_after_it_starts_again(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    with WebhookReceiver(HOOK_SECRET) as hook, SmtpServer() as mail:
        hook.state.fail_with = [503]
        mail.state.fail_with = ["451 try again later"]
        config = notifying(
            webhook("ops", hook.url + "/ops") + smtp(mail.port),
            "sym_integration.ops.id, sym_integration.mail.id",
        )

        def start() -> AbstractAsyncContextManager[Harness]:
            return harness(
                tmp_path,
                config_text=config,
                monkeypatch_env=ENV,
                clock=clock,
                data_dir=tmp_path / "data",
            )

        async with start() as h:
            run_id = await h.request()

            async def tried() -> bool:
                rows = await h.app.reader.run_notifications(run_id)
                return len(rows) == 3 and all(row["attempts"] == 1 for row in rows)

            # A failed post, one email sent and one refused for now.
            await h.wait_for(tried, "every notification to be tried once")
            assert len(hook.state.posts) == 1 and len(mail.mails()) == 1
            assert await metric(h, 'symbox_notifications_pending{kind="email"} 1')
            assert await metric(h, 'symbox_notifications_pending{kind="webhook"} 1')
        # Down while the retries come due.
        clock.advance(120)
        async with start() as h:

            async def delivered() -> bool:
                rows = await h.app.reader.run_notifications(run_id)
                return all(row["delivered_at"] is not None for row in rows)

            await h.wait_for(delivered, "the deliveries")
            assert hook.state.accepted()[0].body["run_id"] == run_id
            assert len(mail.mails()) == 2
            rows = await h.app.reader.run_notifications(run_id)
            assert sorted(row["attempts"] for row in rows) == [1, 2, 2]


IMPL = """\
from sym.sdk.notifications import Notification


def get_request_notifications(event):
    return [
        Notification(destinations=["webhook:ops", "email:dana@example.com"], timeout=60),
        Notification(destinations=["webhook:backup", "erin@example.com"]),
    ]
"""


async def test_a_flow_hook_sends_requests_to_webhooks_and_addresses_it_names(
    tmp_path: Path,
) -> None:
    (tmp_path / "impl.py").write_text(IMPL)
    with WebhookReceiver(HOOK_SECRET) as hook, SmtpServer() as mail:
        # No flow-level notify_ids: only what the hook names, and only when it is current.
        config = notifying(
            webhook("ops", hook.url + "/ops")
            + webhook("backup", hook.url + "/backup", "gchat")
            + smtp(mail.port),
            "",
            implementation="impl.py",
        )
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            await h.wait_for(lambda: hook.state.accepted() and mail.mails(), "both")
            assert [post.path for post in hook.state.accepted()] == ["/ops"]
            assert [item.rcpt_tos for item in mail.mails()] == [["dana@example.com"]]
            # Nobody decided in time: the request goes on to the backup webhook. A plain
            # address is Slack's unless the flow emails through notify_ids.
            await h.advance(61)
            await h.wait_for(lambda: len(hook.state.accepted()) == 2, "the forward")
            forwarded = hook.state.accepted()[1]
            assert forwarded.path == "/backup"
            assert "(still waiting)" in forwarded.body["text"]
            assert run_id in forwarded.body["text"]
            assert len(mail.mails()) == 1


async def test_email_logs_in_with_the_password_from_env_and_never_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with SmtpServer(login=("symbox", SMTP_PASSWORD)) as mail:
        config = notifying(smtp(mail.port, login=True), "sym_integration.mail.id")
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            await h.request()
            await h.wait_for(lambda: len(mail.mails()) == 2, "two emails")
            assert mail.state.logins
    assert caplog.records
    assert all(SMTP_PASSWORD not in record.getMessage() for record in caplog.records)
    assert SMTP_PASSWORD not in caplog.text


async def test_email_upgrades_with_starttls_and_trusts_the_configured_certificates(
    tmp_path: Path,
) -> None:
    certificate = self_signed(tmp_path)
    with SmtpServer(login=("symbox", SMTP_PASSWORD), certificate=certificate) as mail:
        config = notifying(
            smtp(mail.port, login=True, ca_file=certificate), "sym_integration.mail.id"
        )
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            await h.wait_for(lambda: len(mail.mails()) == 2, "two emails over TLS")
            assert mail.state.logins
            assert [item.message["X-Symbox-Run"] for item in mail.mails()] == [run_id] * 2


async def test_email_refuses_a_server_whose_certificate_it_does_not_trust(
    tmp_path: Path,
) -> None:
    certificate = self_signed(tmp_path)
    with SmtpServer(certificate=certificate) as mail:
        # The system's trust store does not know the test certificate.
        text = smtp(mail.port, ca_file=certificate).replace(f'    ca_file = "{certificate}"\n', "")
        config = notifying(text, "sym_integration.mail.id")
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            await attempted(h, run_id, 1)
            rows = await h.app.reader.run_notifications(run_id)
            assert all("CERTIFICATE_VERIFY_FAILED" in row["last_error"] for row in rows)
            assert mail.mails() == []


async def test_done_notifications_are_kept_a_week_then_deleted(tmp_path: Path) -> None:
    with WebhookReceiver(HOOK_SECRET) as hook:
        config = notifying(webhook("ops", hook.url + "/ops"), "sym_integration.ops.id")
        async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
            run_id = await h.request()
            await attempted(h, run_id, 1)
            await h.advance(6 * 86400)
            assert len(await h.app.reader.run_notifications(run_id)) == 1

            async def gone() -> bool:
                await h.advance(3600)
                return not await h.app.reader.run_notifications(run_id)

            await h.wait_for(gone, "the delivered row to be deleted")
            assert h.clock.now() - 1_800_000_000.0 >= 7 * 86400


async def test_a_receiver_that_hangs_delays_only_its_own_notifications(tmp_path: Path) -> None:
    with WebhookReceiver(HOOK_SECRET) as hook:
        hook.state.held.add("/slow")

        def config(receiver_url: str) -> str:
            text = notifying(
                webhook("slow", hook.url + "/slow") + webhook("fast", hook.url + "/fast"),
                "sym_integration.slow.id",
            )(receiver_url)
            return text.replace(
                "params {\n    prompt_field {",
                "params {\n    notify_ids = [sym_integration.fast.id]\n    prompt_field {",
                1,
            )

        try:
            async with harness(tmp_path, config_text=config, monkeypatch_env=ENV) as h:
                await h.request()
                response = await h.call(
                    "POST",
                    "/api/v1/events/request",
                    "carol@example.com",
                    {"flow": "signoff", "flow_inputs": {"reason": "audit"}},
                )
                assert response.status_code == 201, response.text
                signoff = response.json()["run_id"]
                # The signoff's post is delivered while the access post is still held.
                await h.wait_for(
                    lambda: [post.path for post in hook.state.accepted()] == ["/fast"],
                    "the other run's post",
                )
                assert hook.state.accepted()[0].body["run_id"] == signoff
                hook.state.release.set()
                await h.wait_for(lambda: len(hook.state.accepted()) == 2, "the held post")
        finally:
            hook.state.release.set()
