"""Read-only attribute facades over the plain event dict the host sends to a hook."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

# Converts one raw value into what a hook sees.
Convert = Callable[[Any], Any]


class Facade:
    """Base of every event facade: slot-based (no `__dict__`) and read-only, in or out of hooks."""

    __slots__ = ("_data",)

    _data: Any

    def __init__(self, data: Any) -> None:
        object.__setattr__(self, "_data", data)

    def _read_only(self, *args: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only in hooks")

    # Plain assignment and RestrictedPython's write guard (`_write_`) both end here.
    __setattr__ = _read_only
    __delattr__ = _read_only
    __guarded_setattr__ = _read_only
    __guarded_delattr__ = _read_only
    __guarded_setitem__ = _read_only
    __guarded_delitem__ = _read_only

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def wrap(value: Any) -> Any:
    """A read-only view of a plain value: dicts become FrozenMap, lists tuples."""
    if isinstance(value, dict):
        return FrozenMap(value)
    if isinstance(value, list | tuple):
        return tuple(wrap(item) for item in value)
    return value


# Deeper than any event; comparisons of deeper values are simply unequal.
_MAX_DEPTH = 64


def _plain_copy(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` made of exact built-in types only, or TypeError."""
    kind = type(value)
    if depth > _MAX_DEPTH:
        raise TypeError("too deep to compare")
    if value is None or kind in (bool, int, float, str, bytes):
        return value
    if kind in (list, tuple):
        return [_plain_copy(item, depth + 1) for item in value]
    if kind is dict:
        copied = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError("only str keys compare")
            copied[key] = _plain_copy(item, depth + 1)
        return copied
    raise TypeError(f"{kind.__name__} does not compare with event data")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class FrozenMap(Facade):
    """A read-only dict view: `m["x"]`, `m.get("x")`, `"x" in m`, iteration over keys."""

    __slots__ = ("_convert",)

    _convert: Mapping[str, Convert]

    def __init__(self, data: Any, convert: Mapping[str, Convert] | None = None) -> None:
        super().__init__(_mapping(data))
        object.__setattr__(self, "_convert", convert or {})

    def _view(self, key: str, value: Any) -> Any:
        converter = self._convert.get(key) or self._convert.get("*") or wrap
        return converter(value)

    def __getitem__(self, key: str) -> Any:
        return self._view(key, self._data[key])

    def get(self, key: str, default: Any = None) -> Any:
        """The value for `key`, or `default`."""
        return self[key] if key in self._data else default

    def keys(self) -> list[str]:
        """The keys, as a new list."""
        return list(self._data)

    def values(self) -> list[Any]:
        """The values (read-only views), as a new list."""
        return [self[key] for key in self._data]

    def items(self) -> list[tuple[str, Any]]:
        """The (key, value) pairs, as a new list."""
        return [(key, self[key]) for key in self._data]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        # Both sides are copied to plain data first: comparing containers directly would
        # hand this map's own dicts to whatever `__eq__` a hook put on the other side.
        theirs = other._data if isinstance(other, FrozenMap) else other
        try:
            return bool(_plain_copy(self._data) == _plain_copy(theirs))
        except TypeError:
            return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


class User(Facade):
    """`event.user` and actors: `.email`, `.username`, `.role`."""

    __slots__ = ()

    @property
    def email(self) -> str | None:
        """The user's email."""
        return _mapping(self._data).get("email")

    @property
    def username(self) -> str | None:
        """The user's username."""
        return _mapping(self._data).get("username")

    @property
    def role(self) -> str | None:
        """The user's symbox role (admin, member...)."""
        return _mapping(self._data).get("role")

    @property
    def first_name(self) -> str | None:
        """The user's first name, when known."""
        return _mapping(self._data).get("first_name")

    @property
    def last_name(self) -> str | None:
        """The user's last name, when known."""
        return _mapping(self._data).get("last_name")

    def identity(self, service_type: object = None, external_id: object = None) -> NoReturn:
        """Sym's per-service identity of the user: not supported, so it fails naming itself."""
        # Imported here: the placeholders module imports the exceptions, not the event.
        from symbox.sandbox.sdk.placeholders import unsupported

        unsupported("sym.sdk User.identity")

    def _key(self) -> tuple[str | None, str | None]:
        # People are known by email; bots and symbox itself have none, so by username.
        email = self.email
        return (email, None) if email else (None, self.username)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, User) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"User({self.email!r})"


def _user(value: Any) -> User | None:
    return User(value) if isinstance(value, dict) else None


class Target(Facade):
    """`event.payload.fields["target"]`: `.id`, `.name`, `.label`, `.type`, `.settings`."""

    __slots__ = ()

    @property
    def id(self) -> str | None:
        """The target's id: its name, as a flow var set to `sym_target.X.id` holds it."""
        return _mapping(self._data).get("name")

    @property
    def name(self) -> str | None:
        """The target's name."""
        return _mapping(self._data).get("name")

    @property
    def label(self) -> str | None:
        """The target's label."""
        return _mapping(self._data).get("label")

    @property
    def type(self) -> str | None:
        """The target's type."""
        return _mapping(self._data).get("type")

    @property
    def settings(self) -> FrozenMap:
        """The target's settings."""
        return FrozenMap(_mapping(self._data).get("settings"))

    def __repr__(self) -> str:
        return f"Target({self.name!r})"


def _target(value: Any) -> Any:
    return Target(value) if isinstance(value, dict) else wrap(value)


class Payload(Facade):
    """`event.payload`: `.fields` and `.timestamp`."""

    __slots__ = ()

    @property
    def fields(self) -> FrozenMap:
        """The request's prompt fields (`fields["target"]` is a Target)."""
        return FrozenMap(_mapping(self._data).get("fields"), {"target": _target})

    @property
    def timestamp(self) -> datetime.datetime | str | None:
        """When the event happened (a datetime when the host sent ISO 8601)."""
        raw = _mapping(self._data).get("timestamp")
        if isinstance(raw, str):
            try:
                return datetime.datetime.fromisoformat(raw)
            except ValueError:
                return raw
        return None


class Environment(Facade):
    """`event.flow.environment`: `.name` and `.integrations`."""

    __slots__ = ()

    @property
    def name(self) -> str | None:
        """The environment's name."""
        return _mapping(self._data).get("name")

    @property
    def integrations(self) -> FrozenMap:
        """The environment's integrations by name."""
        return FrozenMap(_mapping(self._data).get("integrations"))


class Flow(Facade):
    """`event.flow`: `.name`, `.vars`, `.environment`."""

    __slots__ = ()

    @property
    def name(self) -> str | None:
        """The flow's name."""
        return _mapping(self._data).get("name")

    @property
    def vars(self) -> FrozenMap:
        """The flow's `vars` from its configuration."""
        return FrozenMap(_mapping(self._data).get("vars"))

    @property
    def environment(self) -> Environment:
        """The flow's environment."""
        return Environment(_mapping(_mapping(self._data).get("environment")))


class Run(Facade):
    """`event.run`: `.id` and `.actors` (step name to User)."""

    __slots__ = ()

    @property
    def id(self) -> str | None:
        """The run's id."""
        return _mapping(self._data).get("id")

    @property
    def actors(self) -> FrozenMap:
        """Who performed each step so far, by step name."""
        return FrozenMap(_mapping(self._data).get("actors"), {"*": _user})


class Event(Facade):
    """The `event` argument of hooks and reducers."""

    __slots__ = ()

    @property
    def name(self) -> str | None:
        """The event's name (the step, e.g. "request")."""
        return _mapping(self._data).get("name")

    @property
    def user(self) -> User | None:
        """Who caused the event."""
        return _user(_mapping(self._data).get("user"))

    @property
    def payload(self) -> Payload:
        """The event's payload."""
        return Payload(_mapping(_mapping(self._data).get("payload")))

    @property
    def flow(self) -> Flow:
        """The run's flow."""
        return Flow(_mapping(_mapping(self._data).get("flow")))

    @property
    def run(self) -> Run:
        """The run this event belongs to."""
        return Run(_mapping(_mapping(self._data).get("run")))

    def get_actor(self, event_name: str) -> User | None:
        """The user who performed step `event_name`, or None."""
        return _user(
            _mapping(_mapping(_mapping(self._data).get("run")).get("actors")).get(event_name)
        )

    def get_context(self, event_name: str) -> Any:
        """Context the host recorded for step `event_name`, or None."""
        return wrap(_mapping(_mapping(self._data).get("context")).get(event_name))

    def __repr__(self) -> str:
        return f"Event({self.name!r})"


def make_event(data: object) -> Event:
    """Wrap the host's event dict; refuse anything that is not a dict."""
    if not isinstance(data, dict):
        raise TypeError(f"the event must be a dict, got {type(data).__name__}")
    return Event(data)
