"""`sym.sdk.strategies`: custom access strategies, their integration, and secret handles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from symbox.sandbox.errors import HookError
from symbox.sandbox.guards import HOOK_MODULE_NAME
from symbox.sandbox.sdk.event import Facade, FrozenMap, User, make_event
from symbox.sandbox.sdk.exceptions import AccessStrategyError, IdentityError
from symbox.sandbox.sdk.integrations import IntegrationChannel

# The integration name the host routes secret look-ups by.
SECRETS_INTEGRATION = "secrets"
# Marks a secret in the integration settings the host sends; the worker turns it into a handle.
SECRET_KEY = "__sym_secret__"
# What the host may ask a strategy to do, and the key its request carries them under.
STRATEGY_KEY = "strategy"
METHODS = ("fetch_remote_identity", "escalate", "deescalate")


class SecretHandle(Facade):
    """A secret from the integration's settings; `retrieve_value()` asks the host for it."""

    __slots__ = ("_channel",)

    _channel: IntegrationChannel

    def __init__(self, data: Mapping[str, Any], channel: IntegrationChannel) -> None:
        super().__init__(dict(data))
        object.__setattr__(self, "_channel", channel)

    @property
    def label(self) -> str:
        """Where the secret comes from, e.g. `env(API_KEY)`; safe to show."""
        return str(self._data.get("label", ""))

    def retrieve_value(self) -> str:
        """The secret's value, resolved by the host when asked."""
        value = self._channel.call(SECRETS_INTEGRATION, "retrieve", {"id": self._data.get("id")})
        if type(value) is not str:
            raise AccessStrategyError("the host returned no value for the secret")
        return value

    def __repr__(self) -> str:
        return f"<secret {self.label}>"


def _settings_value(value: Any, channel: IntegrationChannel) -> Any:
    if isinstance(value, dict):
        if set(value) == {SECRET_KEY}:
            return SecretHandle(value[SECRET_KEY], channel)
        return FrozenMap({key: _settings_value(item, channel) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_settings_value(item, channel) for item in value)
    return value


class Integration(Facade):
    """`self.integration`: `.name`, `.type`, `.external_id`, `.label` and `.settings`."""

    __slots__ = ("_settings",)

    _settings: FrozenMap

    def __init__(self, data: Mapping[str, Any], channel: IntegrationChannel) -> None:
        super().__init__(dict(data))
        settings = _settings_value(dict(data.get("settings") or {}), channel)
        object.__setattr__(self, "_settings", settings)

    @property
    def name(self) -> str | None:
        """The integration's name."""
        value = self._data.get("name")
        return value if isinstance(value, str) else None

    @property
    def type(self) -> str | None:
        """The integration's type (`custom`)."""
        value = self._data.get("type")
        return value if isinstance(value, str) else None

    @property
    def external_id(self) -> str | None:
        """The integration's `external_id`."""
        value = self._data.get("external_id")
        return value if isinstance(value, str) else None

    @property
    def label(self) -> str | None:
        """The integration's label."""
        value = self._data.get("label")
        return value if isinstance(value, str) else None

    @property
    def settings(self) -> FrozenMap:
        """The settings; secrets are handles (`settings["secrets"][0].retrieve_value()`)."""
        return self._settings

    def __repr__(self) -> str:
        return f"Integration({self.name!r})"


def bind_environment_integrations(event: Any, channel: IntegrationChannel) -> None:
    """Make the plain integration views of ``event.flow.environment`` Integration objects.

    Sym hands hooks these objects by name; their secret settings are handles this call's
    ``retrieve_value()`` resolves through the host.
    """
    flow = event.get("flow") if isinstance(event, dict) else None
    environment = flow.get("environment") if isinstance(flow, dict) else None
    if not isinstance(environment, dict):
        return
    views = environment.get("integrations")
    if isinstance(views, dict):
        environment["integrations"] = {
            str(name): Integration(view, channel)
            for name, view in views.items()
            if isinstance(view, dict)
        }


def _not_implemented(strategy: object, method: str) -> NoReturn:
    raise AccessStrategyError(f"{type(strategy).__name__} does not implement {method}")


class AccessStrategy:
    """Base class of custom strategies: subclasses define the three methods below."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration

    def get_requester_identity(self, event: Any) -> str:
        """The requester's identity in the target system, from `fetch_remote_identity`."""
        requester = event.get_actor("request")
        if requester is None:
            raise IdentityError("the event names no requester")
        # symbox keeps no identity store: the strategy is asked each time.
        identity = self.fetch_remote_identity(requester)
        if not identity:
            name = getattr(self.integration, "name", None)
            where = f" in the {name} integration" if name else ""
            raise IdentityError(f"no identity for {requester.email}{where}")
        if type(identity) is not str:
            raise IdentityError(
                f"fetch_remote_identity returned {type(identity).__name__}; expected a str"
            )
        return identity

    def fetch_remote_identity(self, user: User) -> str | None:
        """The user's identity in the target system, or None; subclasses define it."""
        _not_implemented(self, "fetch_remote_identity")

    def escalate(self, target_id: str, event: Any) -> Any:
        """Grant access; subclasses define it."""
        _not_implemented(self, "escalate")

    def deescalate(self, target_id: str, event: Any) -> Any:
        """Revoke access; subclasses define it."""
        _not_implemented(self, "deescalate")


def strategy_class(namespace: Mapping[str, Any], filename: str) -> type[AccessStrategy]:
    """The one AccessStrategy subclass the module defines (the most derived one)."""
    found = [
        value
        for value in namespace.values()
        if isinstance(value, type)
        and value is not AccessStrategy
        and value.__module__ == HOOK_MODULE_NAME
        and issubclass(value, AccessStrategy)
    ]
    leaves = [kind for kind in found if not any(o is not kind and kind in o.__mro__ for o in found)]
    if not leaves:
        raise HookError(
            "the module defines no subclass of sym.sdk.strategies.AccessStrategy",
            file=filename,
            type_name="AccessStrategyError",
        )
    if len(leaves) > 1:
        names = ", ".join(sorted(kind.__name__ for kind in leaves))
        raise HookError(
            f"the module defines several AccessStrategy subclasses ({names}); keep one",
            file=filename,
            type_name="AccessStrategyError",
        )
    return leaves[0]


def run_strategy(
    namespace: Mapping[str, Any],
    filename: str,
    spec: Mapping[str, Any],
    channel: IntegrationChannel,
) -> Any:
    """Instantiate the module's strategy with its integration and call one method."""
    method = spec.get("method")
    if method not in METHODS:
        raise HookError(f"unknown strategy method {method!r}", file=filename)
    kind = strategy_class(namespace, filename)
    strategy = kind(Integration(spec.get("integration") or {}, channel))
    if method == "fetch_remote_identity":
        return strategy.fetch_remote_identity(User(dict(spec.get("user") or {})))
    call = strategy.escalate if method == "escalate" else strategy.deescalate
    return call(str(spec.get("target_id")), make_event(spec.get("event")))
