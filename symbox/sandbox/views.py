"""How people and flows look to hooks: the plain data inside the events they receive."""

from __future__ import annotations

from typing import Any

from symbox.config.model import Config, Flow
from symbox.engine.model import Actor

# A bot's or symbox's view has no email: a hook that checks ``event.user.email`` against a
# list of people must never find a person there who did not act.
BOT_ROLE = "bot"
SYSTEM_ROLE = "system"


def user_view(email: str) -> dict[str, str]:
    """A person as hooks see one (``event.user``, actors, a strategy's ``user``)."""
    # As in Sym, where a normal user's username is their email: hooks compare approver
    # lists written as emails against it.
    return {"email": email, "username": email, "role": "member"}


def actor_view(actor: Actor) -> dict[str, str | None]:
    """Whoever acted, as hooks see them: a person, a bot token, or symbox itself."""
    if actor.kind == "user":
        return dict(user_view(actor.id))
    if actor.kind == "bot":
        # The same spelling as in vars["approvers"], so a hook can compare the two.
        return {"email": None, "username": f"bot:{actor.id}", "role": BOT_ROLE}
    if actor.kind == "hook":
        return {"email": None, "username": f"hook:{actor.id}", "role": SYSTEM_ROLE}
    return {"email": None, "username": "symbox", "role": SYSTEM_ROLE}


def flow_view(flow: Flow, config: Config) -> dict[str, Any]:
    """A flow as hooks see it (``event.flow``): its name, vars and environment."""
    environment = config.environments.get(flow.environment)
    return {
        "name": flow.name,
        "vars": dict(flow.vars),
        "environment": {
            "name": environment.name if environment else flow.environment,
            # Filled in per call, secrets as this call's handles (symbox.flowhooks.integrations).
            "integrations": {},
        },
    }
