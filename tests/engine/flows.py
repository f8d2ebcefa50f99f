"""Config model objects for engine tests, built directly (the loader has its own tests)."""

from __future__ import annotations

from typing import Any

from symbox.config.model import (
    Config,
    Environment,
    Flow,
    FlowParams,
    Location,
    PromptField,
    Strategy,
    Target,
)

HERE = Location("test.hcl", 1)


def prompt_field(name: str, field_type: str, **options: Any) -> PromptField:
    """A prompt field with Sym's defaults."""
    values: dict[str, Any] = {
        "label": None,
        "required": True,
        "visible": True,
        "default": None,
        "allowed_values": None,
        "prefetch": False,
        "on_change": None,
    }
    values.update(options)
    return PromptField(name=name, type=field_type, location=HERE, **values)


def make_config(
    *,
    approvers: str = "alice@example.com,bob@example.com,bot:ci",
    extra_vars: dict[str, str] | None = None,
    strategy: bool = True,
    fields: tuple[PromptField, ...] | None = None,
    allow_revoke: bool = True,
    request_ttl: int = 86_400,
) -> Config:
    """One environment, an http strategy with two targets and a flow named ``access``."""
    targets = {
        key: Target(key, key.replace("_", "-"), "custom", None, {"identifier": key}, (), HERE)
        for key in ("staging_db", "prod_db")
    }
    strategies = {
        "grants": Strategy(
            "grants", "grants", "http", None, tuple(targets), None, {"url": "http://x"}, None, HERE
        )
    }
    default_fields = (
        prompt_field("reason", "string"),
        prompt_field("duration", "duration", allowed_values=(60, 600, 3600)),
    )
    params = FlowParams(
        strategy="grants" if strategy else None,
        allow_revoke=allow_revoke,
        schedule_deescalation=True,
        allowed_sources=("slack", "api"),
        include_decision_message=False,
        additional_header_text=None,
        allow_guest_interaction=False,
        prompt_fields=default_fields if fields is None else fields,
        request_ttl=request_ttl,
    )
    flow = Flow(
        key="access",
        name="access",
        label=None,
        implementation="",
        implementation_path=None,
        environment="main",
        vars={"approvers": approvers, **(extra_vars or {})},
        params=params,
        location=HERE,
    )
    environment = Environment("main", "main", None, None, None, (), {}, HERE)
    return Config(
        files=("test.hcl",),
        environments={"main": environment},
        targets=targets,
        strategies=strategies if strategy else {},
        flows={"access": flow},
    )
