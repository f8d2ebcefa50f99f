"""Where the client finds its server and token: options, the environment, the token file."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SERVER = "http://127.0.0.1:8080"
SERVER_VARIABLE = "SYMBOX_SERVER"
TOKEN_VARIABLE = "SYMBOX_TOKEN"
TOKEN_FILE_VARIABLE = "SYMBOX_TOKEN_FILE"


class ConfigProblem(Exception):
    """The client cannot work out where to connect or with which token."""


@dataclass(frozen=True)
class Settings:
    """The server URL and the token to call it with."""

    server: str
    token: str


def default_token_file(environ: Mapping[str, str]) -> Path:
    """``$SYMBOX_TOKEN_FILE``, else ``$XDG_CONFIG_HOME/symbox/token`` (``~/.config`` if unset)."""
    named = environ.get(TOKEN_FILE_VARIABLE)
    if named:
        return Path(named).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "symbox" / "token"


def server_url(option: str | None, environ: Mapping[str, str]) -> str:
    """The server to call: ``--server``, else ``$SYMBOX_SERVER``, else the local default."""
    url = (option or environ.get(SERVER_VARIABLE) or DEFAULT_SERVER).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigProblem(f"server {url!r}: expected an http:// or https:// URL")
    return url


def read_token_file(path: Path) -> tuple[str, str | None]:
    """The token in ``path``, and a warning if others may read the file."""
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigProblem(
            f"no token: set {TOKEN_VARIABLE} or run `symbox login` (no file {path})"
        ) from None
    except OSError as error:
        raise ConfigProblem(f"cannot read the token file {path}: {error.strerror}") from None
    if not text:
        raise ConfigProblem(f"the token file {path} is empty; run `symbox login` again")
    warning = None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warning = f"the token file {path} is readable by others; run: chmod 600 {path}"
    return text, warning


def write_token_file(path: Path, token: str) -> None:
    """Store ``token`` in ``path``, readable by its owner only (created so from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Open with 0600 so the secret is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        # A file that existed keeps its mode through O_CREAT: tighten it too.
        os.fchmod(file.fileno(), 0o600)
        file.write(token + "\n")


def token(token_file: Path | None, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """The token (``$SYMBOX_TOKEN``, else the token file), and a warning to show, if any."""
    from_environment = environ.get(TOKEN_VARIABLE, "").strip()
    if from_environment and token_file is None:
        return from_environment, None
    return read_token_file(token_file or default_token_file(environ))
