"""Requests needing several approvers: counting, refusals and per-group quorums."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from symbox.config.model import ApprovalGroup, Flow
from symbox.engine import runs
from symbox.engine.model import Actor, GrantState, RunStatus
from symbox.engine.permissions import DecisionRule
from symbox.engine.quorum import Quorum, counted, quorum_for
from symbox.store.codec import run_from_json, run_to_json
from tests.engine.flows import make_config
from tests.engine.test_runs import T0, decide, requested

ALICE = Actor.user("alice@example.com")
BOB = Actor.user("bob@example.com")
DAVE = Actor.user("dave@example.com")
CAROL = Actor.user("carol@example.com")
PEOPLE = "alice@example.com,bob@example.com,dave@example.com,carol@example.com,bot:ci"


def quorum_flow(required: int = 2, *groups: ApprovalGroup, self_approval: bool = False) -> Flow:
    extra = {"allow_self_approval": "true"} if self_approval else {}
    flow = make_config(approvers=PEOPLE, extra_vars=extra).flows["access"]
    params = replace(flow.params, approvals_required=required, approvals=groups)
    return replace(flow, params=params)


def test_the_run_waits_for_the_second_approver_then_is_approved() -> None:
    flow = quorum_flow()
    run = requested(flow)
    assert run.approvals_required == 2
    first = decide(run, flow, ALICE)
    assert first.run.status is RunStatus.REQUESTED
    assert first.run.grant is None and first.run.decision is None
    assert [item.actor for item in first.run.approvals] == [ALICE]
    [event] = first.events
    assert (event.name, event.status) == ("approve", RunStatus.REQUESTED)
    assert event.details == {"approvals": 1, "required": 2}
    second = decide(first.run, flow, BOB, now=T0 + 9)
    assert second.run.status is RunStatus.APPROVED
    assert second.run.decision is not None and second.run.decision.actor == BOB
    assert [item.actor for item in second.run.approvals] == [ALICE, BOB]
    assert second.run.grant is not None and second.run.grant.state is GrantState.ESCALATING
    assert second.events[0].details == {"approvals": 2, "required": 2}
    # The escalation deadline runs from the approval that met the quorum.
    assert runs.due_at(second.run) == T0 + 9


def test_the_same_approver_twice_is_a_conflict() -> None:
    flow = quorum_flow()
    first = decide(requested(flow), flow, ALICE).run
    with pytest.raises(runs.Conflict, match=r"already approved run r1 \(1 of 2\)"):
        decide(first, flow, Actor.user("Alice@Example.com"))


def test_the_requester_never_counts_even_with_self_approval() -> None:
    flow = quorum_flow(self_approval=True)
    run = requested(flow)
    with pytest.raises(runs.Forbidden, match="requester's own approval does not count"):
        decide(run, flow, CAROL)
    # With one approval needed, self-approval still works as before.
    single = quorum_flow(1, self_approval=True)
    assert decide(requested(single), single, CAROL).run.status is RunStatus.APPROVED


def test_a_deny_after_one_approval_ends_the_request() -> None:
    flow = quorum_flow()
    first = decide(requested(flow), flow, ALICE).run
    denied = decide(first, flow, BOB, approve=False).run
    assert denied.status is RunStatus.DENIED
    assert denied.decision is not None and denied.decision.actor == BOB
    with pytest.raises(runs.Conflict):
        decide(denied, flow, DAVE)


def test_a_hook_approval_decides_outright() -> None:
    flow = quorum_flow()
    approved = decide(requested(flow), flow, Actor.hook("on_request")).run
    assert approved.status is RunStatus.APPROVED


def test_get_permissions_overrides_the_flows_count() -> None:
    flow = quorum_flow(1)
    rule = DecisionRule(None, False, approvals_required=3)
    assert quorum_for(flow, rule).required == 3
    run = requested(flow)
    for actor in (ALICE, BOB):
        run = runs.decide(
            run,
            flow,
            actor=actor,
            approve=True,
            reason=None,
            now=T0 + 1,
            channel="api",
            target_key="prod_db",
            rule=rule,
        ).run
        assert run.status is RunStatus.REQUESTED
    assert run.approvals_required == 3


SECURITY = ApprovalGroup("security", frozenset({"dave@example.com", "alice@example.com"}), 1)
PROD = ApprovalGroup("prod", frozenset({"alice@example.com", "bob@example.com"}), 1)


def test_each_group_needs_its_count_and_one_person_fills_one_place() -> None:
    quorum = Quorum(2, (SECURITY, PROD))
    assert counted(quorum, [ALICE]) == 1
    # Alice is in both groups but fills only one place; Bob takes the other.
    assert counted(quorum, [ALICE, BOB]) == 2
    # Alice moves to security so Bob's approval still counts for prod, whatever the order.
    assert counted(quorum, [BOB, ALICE]) == 2
    assert counted(quorum, [BOB, Actor.user("erin@example.com")]) == 1


def test_an_approval_that_fills_no_place_is_refused() -> None:
    flow = quorum_flow(2, replace(PROD, members=frozenset({"bob@example.com"})), SECURITY)
    first = decide(requested(flow), flow, BOB).run
    with pytest.raises(runs.Conflict, match="still needed: 1 from security"):
        decide(first, flow, Actor.bot("ci"))
    done = decide(first, flow, DAVE).run
    assert done.status is RunStatus.APPROVED


def test_group_counts_raise_the_total() -> None:
    flow = quorum_flow(1, replace(SECURITY, count=2))
    assert quorum_for(flow, None).required == 2


def test_approvals_round_trip_and_older_runs_load_without_them() -> None:
    flow = quorum_flow()
    partial = decide(requested(flow), flow, ALICE).run
    assert run_from_json(run_to_json(partial)) == partial
    body = json.loads(run_to_json(partial))
    del body["approvals"], body["approvals_required"]
    older = run_from_json(json.dumps(body))
    assert (older.approvals, older.approvals_required) == ((), None)
