"""The ``break_glass`` block of a flow's params: read, and refused with file:line."""

from __future__ import annotations

from tests.config.helpers import load
from tests.config.test_problems import BASE, ENV, check, flow

STRATEGY = "    strategy_id = sym_strategy.s.id\n"


def glass(body: str) -> str:
    """A ``break_glass`` block (from line 20, after the strategy) holding ``body``."""
    return STRATEGY + "    break_glass {\n" + body + "    }\n"


def test_break_glass_is_read_with_its_defaults() -> None:
    config = load(BASE + flow(glass('      max_duration = "1h"\n')), ENV)
    setting = config.flows["f"].params.break_glass
    assert setting is not None
    assert (setting.max_duration, setting.reason_min_length) == (3600, 20)
    assert setting.location.line == 20
    config = load(
        BASE + flow(glass('      max_duration = "10m"\n      reason_min_length = 5\n')), ENV
    )
    setting = config.flows["f"].params.break_glass
    assert setting is not None
    assert (setting.max_duration, setting.reason_min_length) == (600, 5)


def test_a_flow_without_the_block_has_no_break_glass() -> None:
    assert load(BASE + flow(STRATEGY), ENV).flows["f"].params.break_glass is None


def test_break_glass_problems_name_their_line() -> None:
    check(
        flow(glass("      reason_min_length = 0\n")),
        "config.hcl:20: sym_flow.f: params: break_glass: missing required argument max_duration",
        "config.hcl:21: sym_flow.f: params: break_glass: reason_min_length: expected a whole "
        "number from 1 to 1000, got 0",
    )
    check(
        flow(glass('      max_duration = "soon"\n      colour = "red"\n')),
        'config.hcl:21: sym_flow.f: params: break_glass: max_duration: invalid duration "soon": '
        "expected a positive whole number followed by s, m, h, d or mo "
        "(e.g. 30s, 10m, 1h, 2d, 1mo)",
        "config.hcl:22: sym_flow.f: params: break_glass: unknown argument colour (expected one "
        "of: max_duration, reason_min_length)",
    )
    check(
        flow(
            '    prompt_field "duration" {\n      type = "duration"\n'
            '      allowed_values = ["1h", "2h"]\n    }\n'
            + glass('      max_duration = "10m"\n      reason_min_length = "long"\n')
        ),
        "config.hcl:25: sym_flow.f: params: break_glass: max_duration: 10m is shorter than "
        'every allowed value of the "duration" field (the shortest is 1h)',
        "config.hcl:26: sym_flow.f: params: break_glass: reason_min_length: expected a whole "
        'number from 1 to 1000, got "long"',
    )


def test_break_glass_needs_grants_that_end_by_themselves() -> None:
    check(
        flow('    break_glass {\n      max_duration = "1h"\n    }\n'),
        "config.hcl:19: sym_flow.f: params: break_glass: only a flow whose strategy schedules "
        "de-escalation can grant break-glass access",
    )
    check(
        flow(
            glass('      max_duration = "1h"\n')
            + '    break_glass {\n      max_duration = "1h"\n    }\n'
        ),
        "config.hcl:23: sym_flow.f: params: break_glass is set twice",
    )
