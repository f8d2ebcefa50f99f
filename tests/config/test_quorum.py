"""A flow's quorum settings: read into params, and each problem reported as ``file:line``."""

from __future__ import annotations

from symbox.config import quorum as config_quorum
from symbox.config.model import ApprovalGroup
from symbox.sandbox.sdk import request_permission
from tests.config.helpers import load, problems
from tests.config.test_problems import BASE, ENV
from tests.config.test_problems import flow as problems_flow

VARS = (
    '    approvers = "a@x.com,b@x.com,c@x.com,s@x.com"\n'
    '    security  = "s@x.com, A@x.com"\n'
    '    empty     = ""\n'
)


def flow(params: str) -> str:
    """A flow on line 14 with vars (lines 18-22) and params from line 24 (settings at 24)."""
    return problems_flow(params).replace(
        "  params {\n", "  vars = {\n" + VARS + "  }\n  params {\n", 1
    )


def check(params: str, *expected: str) -> None:
    found = problems(BASE + flow(params), ENV)
    assert found == list(expected)


def test_quorum_settings_are_read() -> None:
    config = load(
        BASE + flow('    approvals = [{ from = "security", count = 1 }, { from = "approvers" }]\n'),
        ENV,
    )
    params = config.flows["f"].params
    assert params.approvals == (
        ApprovalGroup("security", frozenset({"s@x.com", "a@x.com"}), 1),
        ApprovalGroup("approvers", frozenset({"a@x.com", "b@x.com", "c@x.com", "s@x.com"}), 1),
    )
    # Each group's count is part of the total.
    assert params.approvals_required == 2
    three = load(BASE + flow("    approvals_required = 3\n"), ENV).flows["f"].params
    assert (three.approvals_required, three.approvals) == (3, ())
    assert load(BASE + flow(""), ENV).flows["f"].params.approvals_required == 1


def test_approvals_required_is_a_small_whole_number() -> None:
    for value, shown in (("0", "0"), ('"2"', '"2"'), ("21", "21"), ("1.5", "1.5")):
        check(
            f"    approvals_required = {value}\n",
            "config.hcl:24: sym_flow.f: params: approvals_required: expected a whole number "
            f"from 1 to 20, got {shown}",
        )
    check(
        '    approvals_required = 1\n    approvals = [{ from = "security" }, { from = "a" }]\n',
        'config.hcl:25: sym_flow.f: params: approvals[1]: from: the flow has no var "a" '
        "listing the group's approvers (its vars: approvers, empty, security)",
    )
    check(
        "    approvals_required = 1\n"
        '    approvals = [{ from = "security" }, { from = "approvers" }]\n',
        "config.hcl:24: sym_flow.f: params: approvals_required: 1 is fewer than the 2 "
        "approvals that approvals asks for from its groups",
    )


def test_each_group_problem_names_its_line_and_place() -> None:
    where = "config.hcl:24: sym_flow.f: params: approvals"
    check(
        '    approvals = "security"\n',
        f'{where}: expected a list of {{ from = VAR, count = N }}, got "security"',
    )
    check(
        '    approvals = [{ from = "security", count = 3 }]\n',
        f'{where}[0]: count: 3 approvals from "security", which lists only 2',
    )
    check(
        '    approvals = [{ from = "empty" }]\n',
        f'{where}[0]: count: 1 approvals from "empty", which lists only 0',
    )
    check(
        '    approvals = [{ from = "security", count = 0 }]\n',
        f"{where}[0]: count: expected a whole number from 1 to 20, got 0",
    )
    check(
        '    approvals = [{ from = "security", size = 1 }]\n',
        f"{where}[0]: unknown key size (expected: count, from)",
    )
    check(
        "    approvals = [{ count = 1 }]\n",
        f"{where}[0]: expected {{ from = VAR, count = N }} naming one of the flow's vars",
    )
    check(
        '    approvals = [{ from = "security" }, { from = "security" }]\n',
        f'{where}[1]: group "security" is listed twice',
    )


def test_a_group_member_must_be_a_possible_approver() -> None:
    problems_found = problems(
        BASE + flow('    approvals = [{ from = "approvers" }]\n').replace("c@x.com", "c@x.com;d"),
        ENV,
    )
    assert problems_found[-1].startswith(
        'config.hcl:24: sym_flow.f: params: approvals[0]: from: vars["approvers"]: '
    )


def test_flows_and_hooks_share_one_bound_on_approvals() -> None:
    assert config_quorum.MAX_APPROVALS == request_permission.MAX_APPROVALS
