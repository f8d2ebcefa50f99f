"""How people and flows look to hooks: the plain data inside the events they receive."""

from __future__ import annotations

from typing import Any

from symbox.config.model import Config, Flow


def user_view(email: str) -> dict[str, str]:
    """A person as hooks see one (``event.user``, actors, a strategy's ``user``)."""
    # symbox knows people by email only; Sym's username is the email's local part.
    return {"email": email, "username": email.split("@", 1)[0], "role": "member"}


def flow_view(flow: Flow, config: Config) -> dict[str, Any]:
    """A flow as hooks see it (``event.flow``): its name, vars and environment."""
    environment = config.environments.get(flow.environment)
    return {
        "name": flow.name,
        "vars": dict(flow.vars),
        "environment": {
            "name": environment.name if environment else flow.environment,
            "integrations": dict(environment.integrations) if environment else {},
        },
    }
