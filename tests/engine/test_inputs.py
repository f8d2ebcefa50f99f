"""Checking flow_inputs against the flow's prompt fields."""

from __future__ import annotations

from typing import Any

import pytest

from symbox.engine.inputs import InputError, form_value, validate_inputs
from tests.engine.flows import make_config, prompt_field


def check(inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
    config = make_config(**options)
    return validate_inputs(config, config.flows["access"], inputs)


def problems(inputs: dict[str, Any], **options: Any) -> tuple[str, ...]:
    with pytest.raises(InputError) as caught:
        check(inputs, **options)
    return caught.value.problems


def test_valid_inputs_are_parsed_to_their_types() -> None:
    values = check({"reason": "incident 42", "duration": "10m", "target": "prod-db"})
    assert values == {"reason": "incident 42", "duration": 600, "target": "prod-db"}
    assert check({"reason": "x", "duration": 3600, "target_id": "staging-db"})["duration"] == 3600


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"duration": "2h", "target": "nope", "colour": "blue"})
    assert found == (
        "target: 'nope' is not one of staging-db, prod-db",
        "reason: required",
        "duration: '2h' is not allowed (allowed: 1m, 10m, 1h)",
        "colour: not a field of flow access",
    )


def test_a_bad_duration_names_the_text() -> None:
    [problem] = problems({"reason": "x", "duration": "ten minutes", "target": "prod-db"})
    assert problem.startswith("duration: ") and "ten minutes" in problem


@pytest.mark.parametrize(
    ("field_type", "value", "expected"),
    [
        ("int", "3", "expected an integer"),
        ("int", True, "expected an integer"),
        ("bool", "yes", "expected true or false"),
        ("string", 5, "expected a string"),
        ("str_list", "a", "expected a list"),
        ("int_list", [1, "2"], "expected an integer"),
    ],
)
def test_wrong_types_are_refused(field_type: str, value: Any, expected: str) -> None:
    [problem] = problems({"x": value}, strategy=False, fields=(prompt_field("x", field_type),))
    assert expected in problem


def test_defaults_fill_missing_optional_fields() -> None:
    fields = (
        prompt_field("team", "string", default="infra", allowed_values=("infra", "data")),
        prompt_field("note", "string", required=False),
    )
    assert check({}, strategy=False, fields=fields) == {"team": "infra"}
    assert problems({"team": "sales"}, strategy=False, fields=fields) == (
        "team: 'sales' is not allowed (allowed: infra, data)",
    )


def test_a_flow_without_strategy_takes_no_target() -> None:
    assert problems({"target": "prod-db"}, strategy=False, fields=()) == (
        "target: flow has no strategy, so it takes no target",
    )


def test_oversized_strings_are_refused() -> None:
    [problem] = problems({"reason": "x" * 5000, "duration": 60, "target": "prod-db"})
    assert problem == "reason: longer than 4096 characters"


def test_durations_are_bounded() -> None:
    fields = (prompt_field("duration", "duration"),)
    assert check({"duration": "366d"}, strategy=False, fields=fields) == {"duration": 366 * 86400}
    for too_long in ("367d", 10**12, "13mo"):
        [problem] = problems({"duration": too_long}, strategy=False, fields=fields)
        assert problem.startswith("duration: at most")
    assert problems({"duration": 0}, strategy=False, fields=fields) == (
        "duration: must be positive",
    )


def test_integers_stay_exact() -> None:
    fields = (prompt_field("count", "int"),)
    assert problems({"count": 2**60}, strategy=False, fields=fields) == (
        f"count: must be between -{2**53} and {2**53}",
    )


@pytest.mark.parametrize(
    ("field_type", "raw", "seen"),
    [
        ("bool", None, False),  # an unticked box, as Slack sends it
        ("bool", True, True),
        ("string", "", None),
        ("str_list", [], None),
        ("str_list", ("red",), ["red"]),  # a list field's default is a tuple
        ("duration", "1h", 3600),
        ("int", "seven", None),  # does not parse: validation names it later
    ],
)
def test_values_reach_form_hooks_parsed_and_empty_alike(
    field_type: str, raw: object, seen: object
) -> None:
    assert form_value(field_type, raw) == seen


@pytest.mark.parametrize(
    ("field_type", "blank"),
    [
        ("string", ""),
        ("string", "   "),
        ("string", "\t\n"),
        ("slack_user", " "),
        ("str_list", []),
        ("str_list", ["  "]),
        ("slack_user_list", [""]),
        ("int_list", []),
        ("duration", " "),
        ("int", None),
    ],
)
def test_a_blank_value_does_not_satisfy_a_required_field(field_type: str, blank: object) -> None:
    fields = (prompt_field("x", field_type),)
    assert problems({"x": blank}, strategy=False, fields=fields) == ("x: required",)
    # Optional, the blank value is as if none was sent: the default applies.
    optional = (prompt_field("x", field_type, required=False),)
    assert check({"x": blank}, strategy=False, fields=optional) == {}


def test_strings_are_stored_trimmed_and_match_allowed_values_so() -> None:
    fields = (
        prompt_field("team", "string", allowed_values=("infra", "data")),
        prompt_field("who", "str_list"),
    )
    values = check({"team": " infra ", "who": [" a ", "b"]}, strategy=False, fields=fields)
    assert values == {"team": "infra", "who": ["a", "b"]}
    assert problems({"team": "infra", "who": ["a", " "]}, strategy=False, fields=fields) == (
        "who: has a blank item",
    )


def test_false_and_zero_are_values_not_blanks() -> None:
    fields = (prompt_field("ok", "bool"), prompt_field("n", "int"))
    assert check({"ok": False, "n": 0}, strategy=False, fields=fields) == {"ok": False, "n": 0}
    assert form_value("string", "  ") is None and form_value("str_list", [" "]) is None
