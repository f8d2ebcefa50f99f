"""Turn state values into HCL values: references rebuilt, secrets turned into ``env()``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from symbox.tfimport.hclwrite import Call, Ref
from symbox.tfimport.state import is_sensitive

# Setting names that hold a credential; their values never reach a written file.
_SECRET_KEY = re.compile(
    r"secret$|^secret|token|passw|credential|authorization|^key$"
    r"|(api|private|write|access|signing|secret|client|license)_?key",
    re.I,
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")

Path = tuple[str | int, ...]


def is_empty(value: Any) -> bool:
    """Null, an empty string, list or map: what Terraform shows for an unset argument."""
    return value is None or value == "" or value == [] or value == {}


def looks_secret(key: str) -> bool:
    """Tell whether a setting's name says it holds a credential."""
    return bool(_SECRET_KEY.search(key))


def env_name(*parts: str) -> str:
    """``SYMBOX_A_B``: an environment variable name from a resource key and a setting path."""
    words = [_NOT_NAME.sub("_", part).strip("_").upper() for part in ("symbox", *parts)]
    return "_".join(word for word in words if word)


# The Sym X_secret settings symbox can read from the sym_secret itself.
KEPT_SECRETS = frozenset(
    {"api_token_secret", "client_secret_secret", "password_secret", "username_secret"}
)


@dataclass(frozen=True)
class EnvVar:
    """A secret the operator must set, and where its value came from in Sym."""

    name: str
    origin: str


@dataclass
class Values:
    """Converts one document's values, knowing every imported resource's id."""

    ids: Mapping[str, Ref]
    # What each sym_secret held in Sym, to say where a secret's value now has to come from.
    secret_origins: Mapping[str, str]
    # Write api_token_secret (client_secret_secret, password_secret) = sym_secret.NAME.id
    # as it was, not an env() secret.
    keep_secrets: bool = False
    env: dict[str, EnvVar] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def ref(self, value: Any) -> Ref | None:
        """The resource whose id ``value`` is, if any."""
        return self.ids.get(value) if isinstance(value, str) else None

    def secret(self, prefix: str, path: Path, origin: str) -> Call:
        """``env("SYMBOX_...")`` for a secret, recorded for ``.env.example``."""
        base = env_name(prefix, *(str(step) for step in path))
        name, count = base, 1
        while name in self.env:
            count += 1
            name = f"{base}_{count}"
        self.env[name] = EnvVar(name, origin)
        return Call("env", name)

    def plain(self, value: Any) -> Any:
        """A value with ids turned into references, lists and maps converted item by item."""
        ref = self.ref(value)
        if ref is not None:
            return ref
        if isinstance(value, list):
            return [self.plain(item) for item in value]
        if isinstance(value, dict):
            return {key: self.plain(item) for key, item in value.items() if not is_empty(item)}
        return value

    def settings(
        self, address: str, prefix: str, settings: Mapping[str, Any], marks: Any
    ) -> dict[str, Any]:
        """A ``settings`` map: references, ``jsonencode`` id lists and ``env()`` secrets."""
        return self._map(address, prefix, ("settings",), settings, marks)

    def _map(
        self, address: str, prefix: str, path: Path, items: Mapping[str, Any], marks: Any
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in items.items():
            if is_empty(item):
                continue
            here = (*path, key)
            shown = f"{address} {'.'.join(str(step) for step in here)}"
            sym_secret = self._sym_secret(key, item)
            stored = self.ref(item)
            if (
                self.keep_secrets
                and key in KEPT_SECRETS
                and path == ("settings",)
                and stored is not None
                and stored.type == "sym_secret"
            ):
                # symbox reads this one from Secrets Manager itself, as Sym did.
                out[key] = stored
                continue
            if sym_secret is not None:
                # Sym's X_secret names a sym_secret; symbox reads the credential X itself.
                name = key.removesuffix("_secret")
                out[name] = self.secret(prefix, (*path[1:], name), f"{shown}: {sym_secret}")
                written = ".".join(str(step) for step in (*path, name))
                self.notes.append(f"{shown} (a Sym secret) is now {written} = env()")
                continue
            ids = self._id_list(item) if key.endswith("_json") else None
            if ids is not None:
                out[key] = Call("jsonencode", ids)
            elif is_sensitive(marks, here):
                out[key] = self.secret(prefix, here[1:], f"{shown} (sensitive in the state)")
            elif self.ref(item) is not None:
                out[key] = self.ref(item)
            elif isinstance(item, dict):
                out[key] = self._map(address, prefix, here, item, marks)
            elif looks_secret(key):
                out[key] = self._secret_value(prefix, here, item, shown)
            else:
                out[key] = self.plain(item)
        return out

    def _secret_value(self, prefix: str, path: Path, item: Any, shown: str) -> Any:
        if isinstance(item, list):
            return [
                self.secret(prefix, (*path[1:], index + 1), f"{shown}[{index}]")
                for index, _ in enumerate(item)
            ]
        return self.secret(prefix, path[1:], shown)

    def _sym_secret(self, key: str, item: Any) -> str | None:
        if not key.endswith("_secret") or not isinstance(item, str):
            return None
        ref = self.ref(item)
        if ref is not None and ref.type == "sym_secret":
            return self.secret_origins.get(ref.address, f"the value of {ref.address}")
        if ref is None and _UUID.match(item):
            return f"the value of the Sym secret {item}, which this state does not hold"
        return None

    def _id_list(self, item: Any) -> list[Ref] | None:
        if not isinstance(item, str):
            return None
        try:
            parsed = json.loads(item)
        except ValueError:
            return None
        if not isinstance(parsed, list) or not parsed:
            return None
        refs = [self.ref(entry) for entry in parsed]
        if any(ref is None for ref in refs):
            return None
        return [ref for ref in refs if ref is not None]
