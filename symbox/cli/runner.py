"""``symbox run``: one App at a time, replaced on SIGHUP by one built from the re-read config.

A reload is a clean stop of the running App and a start of a new one in the same process,
on the same listening socket: the new config reaches every part (strategies, hooks,
Slack, audit destinations, API) through the same code paths as a fresh start, and work
in flight finishes as it does on SIGTERM. The config is read and checked, and the new
App built, while the old one still serves; a config that fails any of that is refused,
logged and audited, and the running one stays. One that passes the checks but fails to
start (say, AWS refuses its credentials) is audited too, and the previous config is
started again.
"""

from __future__ import annotations

import logging
import math
import signal
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from functools import partial

import anyio
from anyio.abc import TaskStatus

from symbox.app import PARSE_CACHE_NAME, App, Options, bind_listener
from symbox.audit.entry import system_entry
from symbox.config import ConfigError, VarOption, load_config, missing_flows
from symbox.config.grammar import trees_kept_in
from symbox.config.model import Config
from symbox.config.parse_cache import ParseCache
from symbox.engine.model import Actor
from symbox.errors import StartupError
from symbox.flowhooks.calls import check_implementations
from symbox.flowhooks.checks import check_flow_hooks
from symbox.strategies.custom_source import check_custom_strategies

log = logging.getLogger(__name__)

STOP = "stop"
RELOAD = "reload"


class StartFailed(Exception):
    """An App failed before it was ready; ``cause`` is why."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class ConfigRefused(Exception):
    """A config that must not replace the running one; ``problems`` lists why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class AnyEnvironment(Mapping[str, str]):
    """The environment, with every name ``env()`` may ask for taken as set.

    ``validate --no-env`` checks a config where its secrets are not (CI): an ``env(NAME)``
    is then checked for its name only. ``TF_VAR_`` and ``SYMBOX_VAR_`` values still come
    from the real environment, which is all iteration shows.
    """

    PLACEHOLDER = "<set at run time>"

    def __init__(self, real: Mapping[str, str]) -> None:
        self._real = dict(real)

    def __getitem__(self, name: str) -> str:
        return self._real.get(name, self.PLACEHOLDER)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self) -> Iterator[str]:
        return iter(self._real)

    def __len__(self) -> int:
        return len(self._real)


def load_checked(
    source: str,
    variables: Sequence[VarOption] = (),
    environ: Mapping[str, str] | None = None,
    trees: ParseCache | None = None,
) -> Config:
    """Load the config and compile its hooks and custom strategies; raise ConfigRefused.

    With ``trees``, parse trees of text read before are taken from it, and once the config
    is accepted, those of new text are saved there (those of text no longer read removed).
    """
    try:
        with trees_kept_in(trees) if trees is not None else nullcontext():
            config = load_config(source, environ, variables=variables)
    except ConfigError as error:
        raise ConfigRefused([str(problem) for problem in error.problems]) from None
    empty = missing_flows(config)
    if empty is not None:
        raise ConfigRefused([empty])
    problems = (
        check_implementations(config) + check_flow_hooks(config) + check_custom_strategies(config)
    )
    if problems:
        raise ConfigRefused(problems)
    if trees is not None:
        trees.save()
    return config


def log_notices(config: Config) -> None:
    """Log what the config's files hold that symbox read past (Terraform's own blocks)."""
    for notice in config.notices:
        log.info("config notice", extra={"notice": notice})


def _unwrap(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def startup_error(error: BaseException) -> StartupError | None:
    """The StartupError inside ``error`` (task groups wrap it), if that is all it holds."""
    error = _unwrap(error)
    return error if isinstance(error, StartupError) else None


def describe(error: BaseException) -> str:
    """A one-line reason for an error, task groups unwrapped."""
    error = _unwrap(error)
    return str(error) if isinstance(error, StartupError) else f"{type(error).__name__}: {error}"


class Runner:
    """Serves the config at ``source`` until SIGTERM or SIGINT, reloading it on SIGHUP."""

    def __init__(
        self,
        source: str,
        config: Config,
        options: Options,
        variables: Sequence[VarOption] = (),
    ) -> None:
        self._source = source
        # Kept for every reload: --var and --var-file apply to each reading of the config.
        self._variables = tuple(variables)
        self._config = config
        self._options = options
        self._app: App | None = None
        self._listener: socket.socket | None = None
        self._stopping = False
        send, receive = anyio.create_memory_object_stream[str](math.inf)
        self._commands = send
        self._inbox = receive

    async def run(self) -> None:
        """Serve until stopped; raise StartupError if the first start fails."""
        # Bound once for every App: connections wait in its backlog while one hands over.
        self._listener = bind_listener(self._options.host, self._options.port)
        try:
            async with anyio.create_task_group() as group:
                await group.start(self._watch_signals)
                await self._serve()
                group.cancel_scope.cancel()
        finally:
            self._listener.close()

    async def _watch_signals(self, *, task_status: TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                if signum == signal.SIGHUP:
                    self._commands.send_nowait(RELOAD)
                    continue
                self._stopping = True
                if self._app is not None:
                    self._app.stop()
                self._commands.send_nowait(STOP)
                break
        # Leaving the receiver restores the default action, so a second SIGTERM or SIGINT
        # stops at once (as safe as a crash); a reload no longer makes sense.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def _build(self, config: Config) -> App:
        return App(config, self._options, listener=self._listener)

    async def _serve(self) -> None:
        app = self._build(self._config)
        previous: Config | None = None
        refusal: list[str] = []
        while True:
            self._app = app
            if self._stopping:
                app.stop()
            try:
                following = await self._generation(app, refusal)
            except StartFailed as failed:
                if previous is None:
                    raise failed.cause from None
                reason = describe(failed.cause)
                log.error(
                    "the reloaded config failed to start; starting the previous one again",
                    extra={"config": self._source, "error": reason},
                )
                refusal = [f"the reloaded config failed to start: {reason}"]
                app, previous = self._build(previous), None
                continue
            if following is None:
                return
            previous, refusal, app = app.config, [], following

    async def _generation(self, app: App, refusal: list[str]) -> App | None:
        """Serve ``app`` until it stops; return the App of an accepted reload, or None."""
        following: App | None = None
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            try:
                await group.start(app.serve)
            except Exception as error:
                failure = error
            else:
                if refusal:
                    await self._refuse(app, refusal)
                following = await self._follow_commands(app)
        if failure is not None:
            raise StartFailed(failure)
        return None if self._stopping else following

    async def _follow_commands(self, app: App) -> App | None:
        """Wait for a stop or a reload; stop ``app`` and return the next App, if any."""
        async for command in self._inbox:
            if command == STOP or self._stop_queued():
                break
            following = await self._prepare(app)
            if following is not None:
                log.info("config reloaded; restarting with it", extra={"config": self._source})
                app.stop()
                return following
        app.stop()
        return None

    def _stop_queued(self) -> bool:
        """Drop queued reload requests (one reading serves them all); tell if a stop waits."""
        while True:
            try:
                command = self._inbox.receive_nowait()
            except anyio.WouldBlock:
                return False
            if command == STOP:
                return True

    async def _prepare(self, app: App) -> App | None:
        """Read and check the config and build its App; on any problem refuse it (None)."""
        log.info("reloading the config", extra={"config": self._source})
        try:
            trees = ParseCache(self._options.data_dir / PARSE_CACHE_NAME)
            load = partial(load_checked, self._source, self._variables, trees=trees)
            config = await anyio.to_thread.run_sync(load)
            log_notices(config)
            return self._build(config)
        except ConfigRefused as error:
            problems = error.problems
        except StartupError as error:
            problems = [str(error)]
        except Exception as error:
            # A bug while reading a new config must not take down the running service.
            log.exception("reading the config failed", extra={"config": self._source})
            problems = [f"{type(error).__name__}: {error}"]
        await self._refuse(app, problems)
        return None

    async def _refuse(self, app: App, problems: list[str]) -> None:
        log.error(
            "config reload refused; the running config stays",
            extra={"config": self._source, "problems": problems},
        )
        entry = system_entry(
            "config",
            "config_reload_refused",
            actor=Actor.system(),
            at=app.clock.now(),
            channel="system",
            fields={"config": self._source, "running_files": list(app.config.files)},
            errors=tuple(problems),
        )
        await app.record(entry)
