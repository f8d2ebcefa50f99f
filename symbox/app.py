"""Builds every part of symbox from the config and runs them in one task group."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio
import httpx
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from hypercorn.typing import ASGIFramework

from symbox.api.app import build_api
from symbox.api.auth import RecordedTokenUses, TokenAuth
from symbox.audit.checkpoints import DEFAULT_CHECKPOINT_EVERY, AuditCheckpoints
from symbox.audit.delivery import RetryTiming
from symbox.audit.destinations import audit_paths, build_destinations
from symbox.audit.entry import system_entry
from symbox.audit.outbox import OutboxLimits, OutboxMonitor, slack_report
from symbox.audit.shipper import AuditShipper
from symbox.aws.secrets import SecretsManagerSecrets
from symbox.aws.session import AwsConnections, AwsSetupError
from symbox.clock import Clock, SystemClock
from symbox.config.hosts import hook_allow_list
from symbox.config.model import Config
from symbox.engine.model import Actor
from symbox.engine.schedule import ExpirySchedule, RetryPolicy
from symbox.errors import StartupError
from symbox.flowhooks.checks import defines_hooks
from symbox.flowhooks.integrations import environment_integrations
from symbox.flowhooks.reports import HookReports
from symbox.loops import running_loop
from symbox.metrics import Metrics
from symbox.notify.deliver import NotificationDeliverer, NotifyRetry, build_senders
from symbox.notify.plan import NotificationPlan
from symbox.runs.expiry import ExpiryTimer
from symbox.runs.locks import KeyedLocks
from symbox.runs.reconcile import DEFAULT_INTERVAL as DEFAULT_RECONCILE_INTERVAL
from symbox.runs.reconcile import Reconciler
from symbox.runs.refusals import RefusalLimits, RefusalRecorder
from symbox.runs.revocations import STRATEGY_BACKLOG
from symbox.runs.service import RunService
from symbox.sandbox.hooks import HookRunner
from symbox.sandbox.integrations.build import build_integrations
from symbox.sandbox.integrations.egress import egress_client, ssl_contexts
from symbox.sandbox.integrations.http import HttpGateway
from symbox.sandbox.integrations.scope import CallScope, environment_scope
from symbox.sandbox.pool import HookPool
from symbox.store.reader import Reader
from symbox.store.token_cache import TokenCache
from symbox.store.writer import Writer
from symbox.strategies.base import AccessStrategy
from symbox.strategies.build import build_strategies
from symbox.strategies.custom import CustomStrategies, uses_custom_strategies

if TYPE_CHECKING:
    from symbox.slack import SlackApp
    from symbox.slack.hook_calls import SlackHookCalls

log = logging.getLogger(__name__)

DATABASE_NAME = "symbox.db"
# Parse trees of the config text, so a restart skips the parser (symbox.config.parse_cache).
PARSE_CACHE_NAME = "parse-cache"
LOCK_NAME = "symbox.lock"


def lock_data_dir(data_dir: Path) -> int:
    """Take the data folder for this process, or raise StartupError; return the lock's fd.

    Two servers on one folder would each think they are the only writer of grants and of
    the audit file, so the second one is refused.
    """
    descriptor = os.open(data_dir / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise StartupError(f"another symbox is running with the data folder {data_dir}") from None
    return descriptor


@dataclass(frozen=True)
class Options:
    """How to run: where state lives, where to listen, and tuning for tests and benchmarks."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    synchronous: str = "FULL"
    strategy_timeout: float = 10.0
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    timer_concurrency: int = 64
    # Due revocations one strategy may have taken on at once; its others wait a second.
    revoke_backlog: int = STRATEGY_BACKLOG
    # Seconds between reconciliation passes (one also runs at start).
    reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL
    shutdown_grace: float = 10.0
    audit_limits: OutboxLimits = field(default_factory=OutboxLimits)
    audit_retry: RetryTiming = field(default_factory=RetryTiming)
    # Seconds one hook or reducer call may run before its worker is killed.
    hook_timeout: float = 2.0
    # How refused calls are audited and failing addresses slowed.
    refusal_limits: RefusalLimits = field(default_factory=RefusalLimits)
    # Seconds after its creation a token stops working, whatever its own expiry (None: no bound).
    token_max_ttl: float | None = None
    # Seconds between checkpoint records of the audit chain's head.
    audit_checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY
    # Backoff and attempts for webhook and email notifications.
    notify_retry: NotifyRetry = field(default_factory=NotifyRetry)


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks one), or StartupError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    listener.listen(1024)
    return listener


def http_config(listener: socket.socket, shutdown_grace: float) -> HypercornConfig:
    """Hypercorn's settings for serving on ``listener``, which it takes over."""
    config = HypercornConfig()
    # Hypercorn takes over the already-bound socket, so port 0 works and is known early.
    config.bind = [f"fd://{listener.detach()}"]
    config.accesslog = None
    # Hypercorn's own messages go through the process's structured log, not its format.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = shutdown_grace
    return config


def parse_listen(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT`` for IPv6); raise ValueError naming the problem."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "127.0.0.1", int(port)


class App:
    """symbox's parts, built once; ``serve`` runs them until ``stop`` is called."""

    def __init__(
        self,
        config: Config,
        options: Options,
        clock: Clock | None = None,
        strategies: Mapping[str, AccessStrategy] | None = None,
        *,
        listener: socket.socket | None = None,
    ) -> None:
        self.config = config
        self.options = options
        # A socket the caller keeps across config reloads (else serve() binds its own).
        self._listener = listener
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        options.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        options.data_dir.chmod(0o700)
        self.writer = Writer(options.data_dir / DATABASE_NAME, synchronous=options.synchronous)
        self.reader = Reader(options.data_dir / DATABASE_NAME, committed=self.writer.committed)
        self.schedule = ExpirySchedule()
        # Every API call authenticates: tokens are kept in memory, checked against the
        # database's count of token changes before each use.
        self.tokens = TokenCache(options.data_dir / DATABASE_NAME, self.reader)
        own_tls, hooks_tls = ssl_contexts()
        # Far more connections than httpx's default of 100: one target that hangs would
        # otherwise take every connection the others' grants, revokes, notifications and
        # audit posts wait for (the timer makes at most 64 calls at once per strategy).
        self._http_client = httpx.AsyncClient(
            timeout=options.strategy_timeout,
            verify=own_tls,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=20),
        )
        # Hooks' and custom strategies' own HTTP calls: allow-listed, guarded connections.
        self._egress_client = egress_client(ssl_context=hooks_tls)
        # AWS clients, one set per distinct credentials and region; opened by serve().
        self.aws = AwsConnections()
        self.slack: SlackApp | None = None
        slack_calls: SlackHookCalls | None = None
        if any(item.type == "slack" for item in config.integrations.values()):
            # slack_sdk (with aiohttp) is a large part of the start-up: imported when used.
            from symbox.slack import SlackApp, slack_integration
            from symbox.slack.hook_calls import SlackHookCalls

            integration = slack_integration(config)
            if integration is not None:
                self.slack = SlackApp(integration, config, self.writer, self.reader, self.clock)
                slack_calls = SlackHookCalls(self.slack.web, self.slack.directory)
        # sym_secret values (Secrets Manager): custom integrations' secret_ids_json and the
        # API tokens of integrations with api_token_secret, read when first used.
        secrets = (
            SecretsManagerSecrets(config, self.aws, time.monotonic) if config.secrets else None
        )
        integrations = build_integrations(
            config,
            self._http_client,
            self.aws,
            identities=self.reader,
            slack=slack_calls,
            secrets=secrets,
        )
        # Each environment's hooks reach its own integrations and HTTP allow-list; the
        # pool's default (custom strategies' own calls) has no allow-list.
        self._hook_scopes = {
            key: CallScope(
                build_integrations(
                    config,
                    self._http_client,
                    self.aws,
                    identities=self.reader,
                    slack=slack_calls,
                    environment=key,
                    secrets=secrets,
                ),
                http=HttpGateway(self._egress_client, hook_allow_list(config, key)),
                name=environment_scope(key),
            )
            for key in config.environments
        }
        # Worker processes are only started when some flow has hooks or a custom strategy.
        self.hook_pool = (
            HookPool(
                integrations=CallScope(integrations),
                default_timeout=options.hook_timeout,
                reporter=HookReports(config, self.record, self.metrics, self.clock),
                clock=self.clock.now,
            )
            if defines_hooks(config) or uses_custom_strategies(config)
            else None
        )
        stored = secrets.secret if secrets is not None else None
        custom = (
            None
            if self.hook_pool is None
            else CustomStrategies(
                config,
                self.hook_pool,
                self._egress_client,
                base=integrations,
                timeout=options.strategy_timeout,
                stored=stored,
            )
        )
        self.shippers = [
            AuditShipper(
                sink,
                self.reader,
                self.writer,
                self.metrics,
                route=route,
                clock=self.clock,
                coalesce=coalesce,
            )
            for sink, route, coalesce in build_destinations(
                config,
                audit_paths(config, options.data_dir),
                client=self._http_client,
                aws=self.aws,
                metrics=self.metrics,
                timing=options.audit_retry,
                secrets=secrets,
            )
        ]
        self.checkpoints = AuditCheckpoints(
            self.writer, self.clock, every=options.audit_checkpoint_every
        )
        self.outbox = OutboxMonitor(
            self.reader,
            self.writer,
            self.shippers,
            limits=options.audit_limits,
            report=self._report_to_error_channels,
        )
        senders = build_senders(config, self._http_client)
        slack_key = None
        if self.slack is not None:
            # Request messages, their updates and DMs all go through the outbox.
            slack_key = self.slack.key
            senders[slack_key] = self.slack.outbox
        self.notifications = (
            NotificationDeliverer(
                self.reader,
                self.writer,
                self.clock,
                senders,
                self.metrics,
                retry=options.notify_retry,
            )
            if senders
            else None
        )
        built = (
            build_strategies(config, self._http_client, custom, self.aws, self.reader, secrets)
            if strategies is None
            else strategies
        )
        # Grants, revokes and reconciliation of one access never interleave.
        locks = KeyedLocks()
        self.service = RunService(
            config=config,
            writer=self.writer,
            reader=self.reader,
            clock=self.clock,
            strategies=built,
            schedule=self.schedule,
            metrics=self.metrics,
            policy=options.retry_policy,
            on_commit=self._committed,
            locks=locks,
            hooks=None
            if self.hook_pool is None
            else HookRunner(self.hook_pool, metrics=self.metrics),
            hook_scopes=self._hook_scopes,
            admission=self.outbox.refusal,
            hook_integrations=environment_integrations(config, stored),
            notifications=NotificationPlan(config, slack_key) if senders else None,
            revoke_concurrency=options.timer_concurrency,
            revoke_backlog=options.revoke_backlog,
        )
        self.refusals = RefusalRecorder(
            clock=self.clock,
            metrics=self.metrics,
            record=self.record,
            limits=options.refusal_limits,
        )
        if self.slack is not None:
            self.slack.attach(self.service, self.refusals)
        self.reconciler = Reconciler(
            config=config,
            strategies=built,
            reader=self.reader,
            writer=self.writer,
            clock=self.clock,
            metrics=self.metrics,
            locks=locks,
            interval=options.reconcile_interval,
        )
        self.timer = ExpiryTimer(
            self.schedule,
            self.clock,
            self.service.process_due,
            concurrency=options.timer_concurrency,
            batch=self.service.process_due_batch,
        )
        self.api = build_api(
            self.service,
            self.reader,
            TokenAuth(
                self.tokens,
                self.clock,
                self.refusals,
                RecordedTokenUses(self.writer),
                options.token_max_ttl,
            ),
            self.metrics_text,
        )
        self.port: int | None = None
        self._stopping = anyio.Event()

    def _committed(self, due: float | None) -> None:
        self.timer.armed(due)
        for shipper in self.shippers:
            shipper.notify()
        if self.notifications is not None:
            self.notifications.wake()

    def stop(self) -> None:
        """Begin a clean shutdown: stop taking work, finish what is in flight, stop."""
        self._stopping.set()

    async def record(self, entry: dict[str, Any]) -> None:
        """Commit an audit record that belongs to no run (e.g. a refused reload) and ship it."""
        await self.writer.submit(lambda txn: txn.append_audit(entry))
        for shipper in self.shippers:
            shipper.notify()

    async def _report_to_error_channels(self, text: str) -> None:
        # Not tied to a flow: every error logger's channel hears it.
        if self.slack is None:
            return
        channels = sorted({logger.destination for logger in self.config.error_loggers.values()})
        await slack_report(self.slack.web.chat_postMessage, channels)(text)

    async def metrics_text(self) -> str:
        """Every metric in Prometheus text, with gauges read from the store."""
        gauges: list[tuple[str, str, tuple[tuple[str, str], ...], float]] = []
        for (flow, status), count in sorted((await self.reader.status_counts()).items()):
            gauges.append(
                (
                    "symbox_runs",
                    "Runs by flow and status.",
                    (("flow", flow), ("status", status)),
                    count,
                )
            )
        grants = await self.reader.grant_state_counts()
        gauges.append(("symbox_grants_active", "Grants in force.", (), grants.get("active", 0)))
        gauges.append(
            (
                "symbox_grants_failing_to_revoke",
                "Grants whose revocation failed past the retry bound.",
                (),
                grants.get("failing", 0),
            )
        )
        tip = await self.reader.audit_tip()
        for shipper in self.shippers:
            gauges.append(
                (
                    "symbox_audit_backlog",
                    "Audit records not yet delivered, by destination.",
                    (("destination", shipper.name),),
                    tip - shipper.cursor,
                )
            )
        for shipper in self.shippers:
            gauges.append(
                (
                    "symbox_audit_destination_failing",
                    "1 while delivery to the audit destination is failing.",
                    (("destination", shipper.name),),
                    1.0 if shipper.failing else 0.0,
                )
            )
        gauges.extend(self.outbox.gauges())
        if self.notifications is not None:
            gauges.extend(await self.notifications.gauges())
        socket = self.slack.socket if self.slack is not None else None
        if socket is not None:
            gauges.append(
                (
                    "symbox_slack_connected",
                    "1 while the Slack Socket Mode connection is up.",
                    (),
                    1.0 if socket.connected else 0.0,
                )
            )
        gauges.append(
            ("symbox_schedule_armed", "Runs armed in the expiry timer.", (), len(self.schedule))
        )
        for (strategy, target), count in sorted(self.reconciler.unmanaged().items()):
            gauges.append(
                (
                    "symbox_unmanaged_access",
                    "Identities holding access symbox did not grant, as last reconciled.",
                    (("strategy", strategy), ("target", target)),
                    count,
                )
            )
        return self.metrics.render(gauges)

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until ``stop()``; report readiness (the port is bound) through task_status."""
        lock: int | None = None
        try:
            lock = lock_data_dir(self.options.data_dir)
            if self.hook_pool is not None:
                # The workers' interpreters start while the store opens and the schedule loads.
                await self.hook_pool.launch()
            await self.writer.open()
            await self.reader.open()
            try:
                await self.aws.open()
            except AwsSetupError as error:
                raise StartupError(str(error)) from None
            async with anyio.create_task_group() as core:
                core.start_soon(self.writer.serve)
                await self._run_work(task_status)
                core.cancel_scope.cancel()
        finally:
            # Cleanup runs to the end even when serve() itself is being cancelled.
            with anyio.CancelScope(shield=True):
                if self.hook_pool is not None:
                    # Workers launched for a start that failed before the pool was entered.
                    await self.hook_pool.aclose()
                await self._http_client.aclose()
                await self._egress_client.aclose()
                await self.aws.aclose()
                self.tokens.close()
                await self.reader.close()
                await self.writer.close()
                for shipper in self.shippers:
                    shipper.close()
                if lock is not None:
                    os.close(lock)

    async def _run_work(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        await self._record_start()
        armed = await self.reader.due_runs()
        self.schedule.load(armed)
        log.info("schedule restored", extra={"armed": len(armed)})
        for shipper in self.shippers:
            # Where each destination stands, from its stored cursor and its own contents;
            # a backlog (or a crash between a commit and its append) ships once serving.
            try:
                await shipper.restore()
            except OSError as error:
                # A file destination whose folder is missing or not writable.
                raise StartupError(
                    f"audit destination {shipper.name}: {error.strerror or error}"
                    + (f": {error.filename}" if error.filename else "")
                ) from None
        async with self.hook_pool or nullcontext():
            listener = self._bind()
            async with anyio.create_task_group() as work:
                work.start_soon(self.timer.run)
                work.start_soon(self._serve_http, listener)
                async with anyio.create_task_group() as shipping:
                    for shipper in self.shippers:
                        shipping.start_soon(shipper.run)
                    shipping.start_soon(self.outbox.run)
                    shipping.start_soon(self.checkpoints.run)
                    if self.notifications is not None:
                        shipping.start_soon(self.notifications.run)
                    if self.slack is not None:
                        # Slack stops with the shippers: nothing new comes in after stop().
                        shipping.start_soon(self.slack.run)
                    shipping.start_soon(self.reconciler.run)
                    task_status.started()
                    log.info(
                        "symbox is ready", extra={"port": self.port, "event_loop": running_loop()}
                    )
                    await self._stopping.wait()
                    log.info("shutting down")
                    self.timer.pause()
                    shipping.cancel_scope.cancel()
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.options.shutdown_grace):
            # Side by side: a destination that is down must not keep the file from its records.
            async with anyio.create_task_group() as final:
                for shipper in self.shippers:
                    final.start_soon(shipper.catch_up)

    def _bind(self) -> socket.socket:
        if self._listener is None:
            listener = bind_listener(self.options.host, self.options.port)
        else:
            # Hypercorn closes what it is given; the caller's socket stays open and listening,
            # so connections made while one App hands over to the next wait in its backlog.
            listener = socket.socket(fileno=os.dup(self._listener.fileno()))
        self.port = listener.getsockname()[1]
        return listener

    async def _serve_http(self, listener: socket.socket) -> None:
        config = http_config(listener, self.options.shutdown_grace)
        # Starlette's and Hypercorn's ASGI type hints differ in detail; the protocol is one.
        app = cast("ASGIFramework", self.api)
        await hypercorn_serve(app, config, shutdown_trigger=self._stopping.wait)

    async def _record_start(self) -> None:
        entry = system_entry(
            "config",
            "config_load",
            actor=Actor.system(),
            at=self.clock.now(),
            channel="system",
            fields={
                "files": list(self.config.files),
                "sha256": config_digest(self.config),
                "flows": sorted(flow.name for flow in self.config.flows.values()),
            },
        )
        await self.writer.submit(lambda txn: txn.append_audit(entry))


@asynccontextmanager
async def running(
    config: Config,
    options: Options,
    clock: Clock | None = None,
    strategies: Mapping[str, AccessStrategy] | None = None,
) -> AsyncIterator[App]:
    """Run symbox for the body of an ``async with``, then shut it down cleanly."""
    app = App(config, options, clock, strategies)
    async with anyio.create_task_group() as group:
        await group.start(app.serve)
        try:
            yield app
        finally:
            app.stop()


def config_digest(config: Config) -> str:
    """A digest of the config files' bytes, to tell in the audit log which config ran."""
    digest = hashlib.sha256()
    for name in config.files:
        digest.update(Path(name).read_bytes())
    return digest.hexdigest()
