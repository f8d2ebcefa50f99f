"""Prefetch reducers and on_change functions: checked at load, applied to API requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from symbox.config import load_config
from symbox.flowhooks.calls import check_implementations
from tests.harness import harness

pytestmark = pytest.mark.anyio

IMPLEMENTATION = """\
from sym.sdk.annotations import prefetch
from sym.sdk.forms import FieldOption


@prefetch(field_name="database")
def get_databases(event):
    names = event.flow.vars.get("databases", "orders,billing").split(",")
    if event.user.email == "carol@example.com":
        names.append("prod")
    return [FieldOption(value=name, label=name.upper()) for name in names]
"""

ON_CHANGE = """\
from sym.sdk.forms import FieldOption


def on_change_urgency(username, form):
    urgent = form.fields["urgency"].value == "High"
    ticket = form.fields["ticket"]
    ticket.visible = urgent
    ticket.required = urgent
    if not urgent:
        database = form.fields["database"]
        database.current_allowed_values = [
            option for option in database.original_allowed_values if option.value != "prod"
        ]
    return form
"""

# The form's fields, for a flow's params (the Slack tests use them too).
FORM_FIELDS = """
    prompt_field {
      name     = "database"
      type     = "string"
      prefetch = true
    }
    prompt_field {
      name           = "urgency"
      type           = "string"
      allowed_values = ["Low", "High"]
      on_change      = file("on_change.py")
    }
    prompt_field {
      name     = "ticket"
      type     = "string"
      required = false
      visible  = false
    }
"""

CONFIG = (
    """\
resource "sym_environment" "main" {
  name = "main"
}

resource "sym_flow" "access" {
  name           = "access"
  implementation = file("impl.py")
  environment_id = sym_environment.main.id
  vars = {
    approvers = "alice@example.com"
    databases = "orders,billing"
  }
  params {"""
    + FORM_FIELDS
    + """    prompt_field {
      name = "reason"
      type = "string"
    }
    allow_duplicate_requests = true
  }
}
"""
)


def write(folder: Path, implementation: str = IMPLEMENTATION, on_change: str = ON_CHANGE) -> str:
    (folder / "impl.py").write_text(implementation)
    (folder / "on_change.py").write_text(on_change)
    return CONFIG


def problems(folder: Path, config: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    # Loaded as an operator would, from the config's folder: files are named relative to it.
    monkeypatch.chdir(folder)
    (folder / "config.hcl").write_text(config)
    return check_implementations(load_config("config.hcl", environ={}))


async def post(h: Any, as_: str, inputs: dict[str, Any]) -> tuple[int, Any]:
    response = await h.call(
        "POST",
        "/api/v1/events/request",
        as_,
        {"flow": "access", "flow_inputs": {"reason": "r", **inputs}},
    )
    return response.status_code, response.json()


async def test_requests_are_checked_against_the_form_the_hooks_shape(tmp_path: Path) -> None:
    config = write(tmp_path)
    async with harness(tmp_path, config_text=lambda _: config) as h:

        async def request(as_: str = "dave@example.com", **inputs: object) -> tuple[int, Any]:
            return await post(h, as_, inputs)

        # The prefetched options are the only values a prefetched field takes.
        status, body = await request(database="orders", urgency="Low")
        assert status == 201, body
        status, body = await request(database="payroll", urgency="Low")
        assert status == 400
        assert "database: 'payroll' is not allowed (allowed: orders, billing)" in body["message"]
        # Options depend on who asks: prod is only offered to carol...
        status, body = await request(database="prod", urgency="High", ticket="T-1")
        assert status == 400
        status, body = await request("carol@example.com", database="prod", urgency="High")
        # ...and on_change made the ticket required for urgent requests.
        assert status == 400
        assert "ticket: required" in body["message"]
        status, body = await request(
            "carol@example.com", database="prod", urgency="High", ticket="T-1"
        )
        assert status == 201, body
        run = await h.run(body["run_id"])
        assert run["fields"]["ticket"] == "T-1"
        assert run["fields"]["database"] == "prod"
        # A non-urgent request cannot pick prod: on_change narrowed the options.
        status, body = await request("carol@example.com", database="prod", urgency="Low")
        assert status == 400
        assert "database: 'prod' is not allowed" in body["message"]
        # A hidden field's value is not the requester's to set: it is dropped.
        status, body = await request(database="orders", urgency="Low", ticket="T-2")
        assert status == 201, body
        assert "ticket" not in (await h.run(body["run_id"]))["fields"]


async def test_a_failing_prefetch_reducer_refuses_the_request_naming_its_line(
    tmp_path: Path,
) -> None:
    broken = IMPLEMENTATION.replace("names = event.flow.vars", "names = 1 / 0 or event.flow.vars")
    assert broken != IMPLEMENTATION
    config = write(tmp_path, implementation=broken)
    async with harness(tmp_path, config_text=lambda _: config) as h:
        response = await h.call(
            "POST",
            "/api/v1/events/request",
            "dave@example.com",
            {"flow": "access", "flow_inputs": {"reason": "r", "database": "orders"}},
        )
        assert response.status_code == 400
        message = response.json()["message"]
        assert message.startswith("the request form could not be built:")
        assert "impl.py:7: ZeroDivisionError" in message


async def test_an_on_change_that_widens_the_options_is_refused(tmp_path: Path) -> None:
    widening = ON_CHANGE.replace(
        "return form",
        'form.fields["database"].current_allowed_values = '
        '[FieldOption(value="payroll", label="Payroll")]\n    return form',
    )
    config = write(tmp_path, on_change=widening)
    async with harness(tmp_path, config_text=lambda _: config) as h:
        response = await h.call(
            "POST",
            "/api/v1/events/request",
            "dave@example.com",
            {
                "flow": "access",
                "flow_inputs": {"reason": "r", "database": "payroll", "urgency": "Low"},
            },
        )
        assert response.status_code == 400
        assert (
            "database cannot offer 'payroll', which is not one of its options"
            in (response.json()["message"])
        )


async def test_a_null_value_means_the_default_and_runs_its_on_change(tmp_path: Path) -> None:
    config = write(tmp_path).replace(
        'allowed_values = ["Low", "High"]',
        'allowed_values = ["Low", "High"]\n      default = "Low"',
    )
    async with harness(tmp_path, config_text=lambda _: config) as h:
        for urgency in ({}, {"urgency": None}, {"urgency": "Low"}):
            status, body = await post(h, "carol@example.com", {"database": "prod", **urgency})
            assert status == 400, (urgency, body)
            assert "database: 'prod' is not allowed" in body["message"]


STEERED = """\
def on_change_urgency(username, form):
    if form.fields["ticket"].value != "magic":
        database = form.fields["database"]
        database.current_allowed_values = [
            option for option in database.original_allowed_values if option.value != "prod"
        ]
    return form
"""


async def test_a_value_sent_for_a_hidden_field_does_not_steer_the_form(tmp_path: Path) -> None:
    config = write(tmp_path, on_change=STEERED)
    async with harness(tmp_path, config_text=lambda _: config) as h:
        status, body = await post(
            h, "carol@example.com", {"database": "prod", "urgency": "Low", "ticket": "magic"}
        )
        assert status == 400, body
        assert "database: 'prod' is not allowed" in body["message"]


FILLS = """\
def on_change_urgency(username, form):
    ticket = form.fields["ticket"]
    ticket.visible = True
    if form.fields["urgency"].value == "High":
        ticket.value = "INC-" + username.split("@")[0]
    return form
"""


async def test_a_value_an_on_change_sets_fills_an_empty_field(tmp_path: Path) -> None:
    config = write(tmp_path, on_change=FILLS)
    async with harness(tmp_path, config_text=lambda _: config) as h:
        status, body = await post(h, "dave@example.com", {"database": "orders", "urgency": "High"})
        assert status == 201, body
        assert (await h.run(body["run_id"]))["fields"]["ticket"] == "INC-dave"
        # The request's own value stays as sent.
        status, body = await post(
            h, "dave@example.com", {"database": "orders", "urgency": "High", "ticket": "T-3"}
        )
        assert status == 201, body
        assert (await h.run(body["run_id"]))["fields"]["ticket"] == "T-3"


async def test_options_of_the_wrong_type_are_the_reducers_error(tmp_path: Path) -> None:
    numbers = IMPLEMENTATION.replace(
        "return [FieldOption(value=name, label=name.upper()) for name in names]",
        "return [FieldOption(value=i, label=name) for i, name in enumerate(names)]",
    )
    config = write(tmp_path, implementation=numbers)
    async with harness(tmp_path, config_text=lambda _: config) as h:
        status, body = await post(h, "dave@example.com", {"database": "0", "urgency": "Low"})
        assert status == 400
        assert body["message"].endswith(
            "impl.py: prefetch reducer of database: option value 0 is not a str, as the string"
            " field needs"
        )


def flow_config(fields: str) -> str:
    """An approval-only flow with ``fields`` (prompt_field blocks) and no reducers."""
    return CONFIG.replace(FORM_FIELDS, fields).replace('file("impl.py")', '"# none"')


TIERS = """\
def on_change_urgency(username, form):
    if form.fields["urgency"].value == "High":
        form.fields["tier"].value = "bronze"
    return form


def on_change_tier(username, form):
    level = form.fields["level"]
    if form.fields["tier"].value == "bronze":
        level.current_allowed_values = [
            option for option in level.original_allowed_values if option.value == "low"
        ]
    return form


def on_change_mode(username, form):
    form.fields["ticket"].visible = form.fields["mode"].value != "quiet"
    return form
"""

TIER_FIELDS = """
    prompt_field {
      name           = "tier"
      type           = "string"
      required       = false
      allowed_values = ["gold", "bronze"]
      on_change      = file("on_change.py")
    }
    prompt_field {
      name           = "urgency"
      type           = "string"
      required       = false
      on_change      = file("on_change.py")
    }
    prompt_field {
      name           = "level"
      type           = "string"
      required       = false
      allowed_values = ["low", "high"]
    }
"""


async def test_a_value_an_on_change_fills_in_runs_its_own_on_change(tmp_path: Path) -> None:
    config = write(tmp_path, on_change=TIERS) and flow_config(TIER_FIELDS)
    async with harness(tmp_path, config_text=lambda _: config) as h:
        # Sent or filled in, bronze allows only the low level.
        for inputs in ({"tier": "bronze", "level": "high"}, {"urgency": "High", "level": "high"}):
            status, body = await post(h, "dave@example.com", inputs)
            assert status == 400, (inputs, body)
            assert "level: 'high' is not allowed" in body["message"]
        status, body = await post(h, "dave@example.com", {"urgency": "High", "level": "low"})
        assert status == 201, body
        assert (await h.run(body["run_id"]))["fields"]["tier"] == "bronze"


STEERING_FIELDS = (
    TIER_FIELDS.replace('"urgency"', '"ticket"', 1).replace("on_change_urgency", "on_change_ticket")
    + """
    prompt_field {
      name      = "mode"
      type      = "string"
      required  = false
      on_change = file("on_change.py")
    }
"""
)

STEERING = TIERS.replace(
    """def on_change_urgency(username, form):
    if form.fields["urgency"].value == "High":""",
    """def on_change_ticket(username, form):
    if form.fields["ticket"].value == "magic":""",
)


async def test_a_value_for_a_field_a_later_on_change_hides_steers_nothing(
    tmp_path: Path,
) -> None:
    config = write(tmp_path, on_change=STEERING) and flow_config(STEERING_FIELDS)
    async with harness(tmp_path, config_text=lambda _: config) as h:
        # The ticket would fill in bronze, but mode=quiet hides the ticket: it steers nothing.
        inputs = {"ticket": "magic", "mode": "quiet", "level": "high"}
        status, body = await post(h, "dave@example.com", inputs)
        assert status == 201, body
        fields = (await h.run(body["run_id"]))["fields"]
        assert "ticket" not in fields and "tier" not in fields
        status, body = await post(h, "dave@example.com", {**inputs, "mode": "loud"})
        assert status == 400, body
        assert "level: 'high' is not allowed" in body["message"]


SELF_HIDING = """\
def on_change_ticket(username, form):
    ticket = form.fields["ticket"]
    ticket.visible = not str(ticket.value).startswith("ADMIN-")
    return form


def on_change_urgency(username, form):
    form.fields["count"].value = "two"
    return form
"""

SELF_HIDING_FIELDS = """
    prompt_field {
      name      = "ticket"
      type      = "string"
      required  = false
      on_change = file("on_change.py")
    }
    prompt_field {
      name      = "urgency"
      type      = "string"
      required  = false
      on_change = file("on_change.py")
    }
    prompt_field {
      name     = "count"
      type     = "int"
      required = false
    }
"""


async def test_a_value_that_hides_its_own_field_is_not_stored(tmp_path: Path) -> None:
    config = write(tmp_path, on_change=SELF_HIDING) and flow_config(SELF_HIDING_FIELDS)
    async with harness(tmp_path, config_text=lambda _: config) as h:
        status, body = await post(h, "dave@example.com", {"ticket": "ADMIN-1"})
        assert status == 201, body
        assert "ticket" not in (await h.run(body["run_id"]))["fields"]
        # A value a hook sets must fit its field's type; the error names what went wrong.
        status, body = await post(h, "dave@example.com", {"urgency": "High"})
        assert status == 400
        assert body["message"].endswith(
            "on_change.py: on_change_urgency set count to 'two', which is not a int value"
        )


def test_the_example_form_hooks_check_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert problems(tmp_path, write(tmp_path), monkeypatch) == []


LONG = "x" * 56


@pytest.mark.parametrize(
    ("implementation", "on_change", "change", "expected"),
    [
        pytest.param(
            "# no reducers\n",
            ON_CHANGE,
            ("", ""),
            "config.hcl:14: access: prompt_field database has prefetch = true, but impl.py has"
            ' no function decorated @prefetch(field_name="database")',
            id="prefetch-without-reducer",
        ),
        pytest.param(
            IMPLEMENTATION,
            ON_CHANGE,
            ("prefetch = true", "prefetch = false"),
            "impl.py:6: get_databases is a prefetch reducer for database, which is not a"
            " prompt_field of flow access with prefetch = true",
            id="reducer-without-prefetch",
        ),
        pytest.param(
            IMPLEMENTATION,
            "def on_change_other(username, form):\n    return form\n",
            ("", ""),
            "config.hcl:19: access: prompt_field urgency: on_change on_change.py defines no"
            " on_change_urgency(username, form)",
            id="on-change-without-its-function",
        ),
        pytest.param(
            IMPLEMENTATION,
            ON_CHANGE,
            ('["Low", "High"]', f'["Low", "{LONG}"]'),
            f"config.hcl:19: access: prompt_field urgency: allowed value {LONG!r} must be 1 to"
            " 55 characters, as on_change functions see each as a FieldOption",
            id="long-allowed-value",
        ),
    ],
)
def test_form_hooks_are_checked_at_load(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    implementation: str,
    on_change: str,
    change: tuple[str, str],
    expected: str,
) -> None:
    config = write(tmp_path, implementation=implementation, on_change=on_change)
    assert problems(tmp_path, config.replace(*change), monkeypatch) == [expected]


def test_an_on_change_file_that_does_not_compile_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, on_change="def on_change_urgency(username, form):\n    return (\n")
    (found,) = problems(tmp_path, config, monkeypatch)
    assert found.startswith("on_change.py:")
