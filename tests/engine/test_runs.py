"""The run state machine, step by step, with ``now`` passed in."""

from __future__ import annotations

import pytest

from symbox.config.model import Flow
from symbox.engine import runs
from symbox.engine.model import Actor, GrantState, Run, RunStatus
from symbox.engine.permissions import DecisionRule
from symbox.engine.schedule import RetryPolicy
from tests.engine.flows import make_config

T0 = 1_800_000_000.0
ALICE = Actor.user("alice@example.com")
CAROL = Actor.user("carol@example.com")


def flow_of(**options: object) -> Flow:
    return make_config(**options).flows["access"]  # type: ignore[arg-type]


def requested(flow: Flow, requester: str = "carol@example.com") -> Run:
    transition = runs.open_request(
        run_id="r1",
        flow=flow,
        requester=requester,
        submitted_by=Actor.user(requester),
        channel="api",
        fields={"reason": "incident", "duration": 600, "target": "prod-db"},
        now=T0,
    )
    return transition.run


def decide(
    run: Run, flow: Flow, actor: Actor, *, approve: bool = True, now: float = T0 + 5
) -> runs.Transition:
    """Decide ``run`` over the API, for the prod_db target."""
    return runs.decide(
        run,
        flow,
        actor=actor,
        approve=approve,
        reason=None,
        now=now,
        channel="api",
        target_key="prod_db" if flow.params.strategy else None,
    )


def approved(flow: Flow) -> Run:
    run = requested(flow)
    return decide(run, flow, ALICE).run


def escalated(flow: Flow, at: float = T0 + 10) -> Run:
    return runs.escalated(approved(flow), flow, at).run


def test_request_opens_a_run_with_its_event() -> None:
    flow = flow_of(request_ttl=3600)
    transition = runs.open_request(
        run_id="r1",
        flow=flow,
        requester="Carol@Example.com",
        submitted_by=Actor.bot("ci"),
        channel="api",
        fields={"reason": "x", "duration": 60, "target": "prod-db"},
        now=T0,
    )
    run = transition.run
    assert (run.status, run.requester, run.target) == (
        RunStatus.REQUESTED,
        "carol@example.com",
        "prod-db",
    )
    assert run.request_expires_at == T0 + 3600
    assert runs.due_at(run) == T0 + 3600
    [event] = transition.events
    assert (event.id, event.name, event.actor, event.status) == (
        "r1.1",
        "request",
        Actor.bot("ci"),
        RunStatus.REQUESTED,
    )


def test_approval_by_an_approver_starts_escalation() -> None:
    flow = flow_of()
    transition = runs.decide(
        requested(flow),
        flow,
        actor=ALICE,
        approve=True,
        reason="ok",
        now=T0 + 5,
        channel="api",
        target_key="prod_db",
    )
    run = transition.run
    assert run.status is RunStatus.APPROVED
    assert run.grant is not None and run.grant.state is GrantState.ESCALATING
    assert run.grant.key == "grants/prod_db/carol@example.com"
    assert run.decision is not None and run.decision.actor == ALICE and run.decision.reason == "ok"
    assert [event.name for event in transition.events] == ["approve"]
    assert transition.events[0].id == "r1.2"


def test_denial_ends_the_run() -> None:
    flow = flow_of()
    run = runs.decide(
        requested(flow),
        flow,
        actor=ALICE,
        approve=False,
        reason="no",
        now=T0 + 5,
        channel="api",
        target_key="prod_db",
    ).run
    assert run.status is RunStatus.DENIED and run.grant is None and run.ended_at == T0 + 5
    assert runs.due_at(run) is None


def test_approval_only_flow_ends_at_approved() -> None:
    flow = flow_of(strategy=False, fields=())
    run = runs.open_request(
        run_id="r1",
        flow=flow,
        requester="carol@example.com",
        submitted_by=CAROL,
        channel="api",
        fields={},
        now=T0,
    ).run
    run = decide(run, flow, ALICE, now=T0 + 1).run
    assert run.status is RunStatus.APPROVED and run.grant is None and run.ended_at == T0 + 1
    assert runs.due_at(run) is None


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        (Actor.user("mallory@example.com"), "not an approver"),
        (Actor.bot("other"), "not an approver"),
    ],
)
def test_only_approvers_may_decide(actor: Actor, message: str) -> None:
    flow = flow_of()
    with pytest.raises(runs.Forbidden, match=message):
        decide(requested(flow), flow, actor, now=T0)


def test_a_listed_bot_may_decide() -> None:
    flow = flow_of()
    run = decide(requested(flow), flow, Actor.bot("ci"), approve=False, now=T0).run
    assert run.status is RunStatus.DENIED


def test_self_approval_is_refused_unless_the_flow_allows_it() -> None:
    flow = flow_of()
    own = requested(flow, requester="alice@example.com")
    with pytest.raises(runs.Forbidden, match="their own request"):
        decide(own, flow, ALICE, now=T0)
    lenient = flow_of(extra_vars={"allow_self_approval": "true"})
    run = decide(requested(lenient, requester="alice@example.com"), lenient, ALICE, now=T0).run
    assert run.status is RunStatus.APPROVED


def test_a_decided_or_expired_request_is_a_conflict() -> None:
    flow = flow_of(request_ttl=60)
    run = approved(flow)
    with pytest.raises(runs.Conflict, match="not requested"):
        decide(run, flow, ALICE, approve=False, now=T0 + 6)
    with pytest.raises(runs.Conflict, match="expired"):
        decide(requested(flow), flow, ALICE, now=T0 + 60)


def test_the_grant_clock_starts_at_escalation() -> None:
    flow = flow_of()
    run = escalated(flow, at=T0 + 100)
    assert run.status is RunStatus.ESCALATED and run.escalated_at == T0 + 100
    assert run.grant is not None and run.grant.state is GrantState.ACTIVE
    assert run.grant.expires_at == T0 + 100 + 600
    assert runs.due_at(run) == T0 + 700
    assert not runs.revoke_due(run, T0 + 699.9)
    assert runs.revoke_due(run, T0 + 700)


def test_failed_escalation_errors_and_revokes_to_be_safe() -> None:
    flow = flow_of()
    transition = runs.escalation_failed(approved(flow), "HTTP 500", T0 + 10)
    run = transition.run
    assert run.status is RunStatus.ERRORED and run.errors == ("HTTP 500",)
    assert run.grant is not None and run.grant.state is GrantState.REVOKING
    assert runs.revoke_due(run, T0 + 10)
    assert transition.events[0].errors == ("HTTP 500",)
    cleaned = runs.deescalated(run, T0 + 11).run
    assert cleaned.status is RunStatus.ERRORED and cleaned.grant is not None
    assert cleaned.grant.state is GrantState.REVOKED


def test_a_failed_grant_is_tried_again_with_backoff_until_escalate_timeout() -> None:
    flow = flow_of()
    policy = RetryPolicy(first=1.0, base=10.0, factor=2.0, jitter=0.0)
    run = approved(flow)  # approved at T0 + 5; the default escalate_timeout is 300 s
    assert flow.params.escalate_timeout == 300
    # The first retry comes soon: most failures are momentary.
    at = runs.escalation_retry_at(run, flow, T0 + 6, policy, 0.5)
    assert at == T0 + 7
    transition = runs.escalation_retried(run, "HTTP 503", T0 + 6, T0 + 7)
    waiting = transition.run
    assert waiting.status is RunStatus.APPROVED and waiting.grant is not None
    assert waiting.grant.state is GrantState.ESCALATING
    assert (waiting.grant.attempts, waiting.grant.last_error) == (1, "HTTP 503")
    assert runs.due_at(waiting) == T0 + 7
    [event] = transition.events
    assert (event.name, event.errors) == ("escalate_failed", ("HTTP 503",))
    assert event.details == {"attempt": 1, "next_attempt_at": T0 + 7}
    # Then the backoff (10 s, doubling: 20 s for the second); the last attempt is made at
    # the bound.
    assert runs.escalation_retry_at(waiting, flow, T0 + 7, policy, 0.5) == T0 + 27
    assert runs.escalation_retry_at(waiting, flow, T0 + 300, policy, 0.5) == T0 + 305
    assert runs.escalation_retry_at(waiting, flow, T0 + 305, policy, 0.5) is None
    # Success clears the failed attempts: revoking counts its own.
    granted = runs.escalated(waiting, flow, T0 + 16).run
    assert granted.grant is not None
    assert (granted.grant.attempts, granted.grant.last_error) == (0, None)
    assert granted.grant.next_attempt_at is None


def test_a_grant_is_keyed_by_the_identity_it_is_made_to() -> None:
    flow = flow_of()
    run = approved(flow)
    assert run.grant is not None and run.grant.identity is None
    bound = runs.bind_identity(run, "prod_db", "C.Smith")
    # Recorded without an event: nothing has been granted yet.
    assert bound.events == ()
    grant = bound.run.grant
    assert grant is not None and grant.state is GrantState.ESCALATING
    assert (grant.key, grant.identity) == ("grants/prod_db/c.smith", "C.Smith")
    assert bound.run.version == run.version + 1
    active = runs.escalated(bound.run, flow, T0 + 10).run
    assert active.grant is not None and active.grant.key == "grants/prod_db/c.smith"
    assert active.grant.identity == "C.Smith"


def test_an_identity_is_bound_once_and_only_before_the_grant() -> None:
    flow = flow_of()
    bound = runs.bind_identity(approved(flow), "prod_db", "c-smith").run
    with pytest.raises(runs.Conflict, match="already grants to c-smith"):
        runs.bind_identity(bound, "prod_db", "carol")
    with pytest.raises(runs.Conflict, match="no grant in state escalating"):
        runs.bind_identity(escalated(flow), "prod_db", "carol")


def test_a_failed_escalation_takes_back_from_the_bound_identity() -> None:
    flow = flow_of()
    bound = runs.bind_identity(approved(flow), "prod_db", "00u2").run
    failed = runs.escalation_failed(bound, "HTTP 500", T0 + 10).run
    assert failed.grant is not None and failed.grant.state is GrantState.REVOKING
    assert (failed.grant.key, failed.grant.identity) == ("grants/prod_db/00u2", "00u2")


def test_only_access_in_place_covers_another_runs_revoke() -> None:
    flow = flow_of()
    active = escalated(flow)
    revoking = runs.request_revoke(
        active, flow, actor=CAROL, reason=None, now=T0 + 20, channel="api"
    ).run
    # An escalating grant may still fail without reaching the target: it covers nothing.
    assert not runs.covers(approved(flow).grant)
    assert runs.covers(active.grant)
    assert not runs.covers(revoking.grant)
    assert not runs.covers(runs.deescalated(revoking, T0 + 21).run.grant)
    assert not runs.covers(None)


def test_early_revoke_by_requester_or_approver_only() -> None:
    flow = flow_of()
    run = escalated(flow)
    with pytest.raises(runs.Forbidden, match="neither the requester nor an approver"):
        runs.request_revoke(
            run,
            flow,
            actor=Actor.user("mallory@example.com"),
            reason=None,
            now=T0 + 20,
            channel="api",
        )
    for actor in (CAROL, ALICE, Actor.bot("anything")):
        revoking = runs.request_revoke(
            run, flow, actor=actor, reason="done", now=T0 + 20, channel="api"
        ).run
        assert revoking.grant is not None and revoking.grant.state is GrantState.REVOKING
        assert revoking.ended_by == actor and runs.due_at(revoking) == T0 + 20
    with pytest.raises(runs.Conflict, match="already being de-escalated"):
        runs.request_revoke(revoking, flow, actor=CAROL, reason=None, now=T0 + 21, channel="api")


def test_revoke_needs_an_escalated_run_and_an_allowing_flow() -> None:
    flow = flow_of()
    with pytest.raises(runs.Conflict, match="not escalated"):
        runs.request_revoke(approved(flow), flow, actor=CAROL, reason=None, now=T0, channel="api")
    strict = flow_of(allow_revoke=False)
    with pytest.raises(runs.Forbidden, match="does not allow early revoke"):
        runs.request_revoke(
            escalated(strict), strict, actor=CAROL, reason=None, now=T0, channel="api"
        )


def test_deescalation_records_why_and_who() -> None:
    flow = flow_of()
    expired = runs.deescalated(escalated(flow), T0 + 700)
    assert expired.run.status is RunStatus.DEESCALATED and expired.run.ended_at == T0 + 700
    assert expired.events[0].details == {"reason": "expired"}
    assert expired.events[0].actor == Actor.system()
    revoking = runs.request_revoke(
        escalated(flow), flow, actor=CAROL, reason=None, now=T0 + 20, channel="api"
    ).run
    revoked = runs.deescalated(revoking, T0 + 21, covered_by="r2")
    assert revoked.events[0].details == {"reason": "revoked", "covered_by": "r2"}
    assert revoked.events[0].actor == CAROL
    with pytest.raises(runs.Conflict):
        runs.deescalated(revoked.run, T0 + 22)


def test_failed_deescalation_backs_off_then_fails_loudly() -> None:
    flow = flow_of()
    policy = RetryPolicy(
        first=0.5, base=10, factor=2, jitter=0.5, max_attempts=3, slow_interval=3600
    )
    run = escalated(flow)
    now = T0 + 700
    delays = []
    for attempt in (1, 2):
        run = runs.deescalation_failed(run, "HTTP 503", now, policy, 0.5, permanent=False).run
        assert run.grant is not None and run.grant.state is GrantState.REVOKING
        assert run.grant.attempts == attempt and run.status is RunStatus.ESCALATED
        assert run.grant.next_attempt_at is not None
        delays.append(run.grant.next_attempt_at - now)
    # The first retry comes soon (most failures are momentary), then the backoff.
    assert delays == [0.5, 20.0]
    transition = runs.deescalation_failed(run, "HTTP 503", now, policy, 0.5, permanent=False)
    run = transition.run
    assert run.grant is not None and run.grant.state is GrantState.FAILING
    assert run.grant.next_attempt_at == now + 3600 and run.grant.last_error == "HTTP 503"
    assert transition.events[0].name == "deescalate_failed"
    assert transition.events[0].details["failing"] is True
    # A failing grant is still retried, and still ends normally once revoke succeeds.
    assert runs.revoke_due(run, now + 3600)
    assert runs.deescalated(run, now + 3600).run.status is RunStatus.DEESCALATED


def test_permanent_errors_skip_the_fast_retries() -> None:
    flow = flow_of()
    policy = RetryPolicy(max_attempts=6, slow_interval=3600)
    run = runs.deescalation_failed(escalated(flow), "HTTP 404", T0, policy, 0.1, permanent=True).run
    assert (
        run.grant is not None and run.grant.state is GrantState.FAILING and run.grant.attempts == 1
    )


def test_requests_expire_after_their_time_to_live() -> None:
    flow = flow_of(request_ttl=60)
    run = requested(flow)
    with pytest.raises(runs.Conflict):
        runs.expire_request(run, T0 + 59)
    transition = runs.expire_request(run, T0 + 60)
    assert transition.run.status is RunStatus.EXPIRED
    assert [event.name for event in transition.events] == ["request_expire"]
    assert runs.due_at(transition.run) is None


def test_whoever_submitted_a_request_may_not_decide_it() -> None:
    flow = flow_of()
    submitted = runs.open_request(
        run_id="r1",
        flow=flow,
        requester="mallory@example.com",
        submitted_by=Actor.bot("ci"),
        channel="api",
        fields={"reason": "x", "duration": 60, "target": "prod-db"},
        now=T0,
    ).run
    with pytest.raises(runs.Forbidden, match="submitted a request may not decide it"):
        decide(submitted, flow, Actor.bot("ci"), now=T0)
    assert decide(submitted, flow, ALICE, now=T0).run.status is RunStatus.APPROVED


def test_an_escalation_that_never_reached_the_target_needs_no_revoke() -> None:
    flow = flow_of()
    run = runs.escalation_failed(approved(flow), "flow gone", T0 + 10, reached_target=False).run
    assert run.status is RunStatus.ERRORED
    assert run.grant is not None and run.grant.state is GrantState.REVOKED
    assert runs.due_at(run) is None


def test_a_failing_hook_errors_a_requested_run() -> None:
    flow = flow_of()
    transition = runs.hook_failed(requested(flow), "on_request", "impl.py:3: boom", T0 + 1)
    run = transition.run
    assert run.status is RunStatus.ERRORED and run.errors == ("impl.py:3: boom",)
    assert run.grant is None and runs.due_at(run) is None
    [event] = transition.events
    assert (event.name, event.actor, event.errors) == (
        "hook_error",
        Actor.hook("on_request"),
        ("impl.py:3: boom",),
    )
    with pytest.raises(runs.Conflict):
        runs.hook_failed(approved(flow), "on_approve", "x", T0 + 2)


def test_a_hook_may_decide_without_being_an_approver() -> None:
    flow = flow_of(approvers="")
    run = decide(requested(flow), flow, Actor.hook("on_request"), now=T0 + 1).run
    assert run.status is RunStatus.APPROVED


def test_decision_rules_from_get_permissions() -> None:
    flow = flow_of(approvers="alice@example.com")
    anyone = DecisionRule.from_permission("ALL_USERS", False, flow.vars)
    assert anyone.approvers is None
    admins = DecisionRule.from_permission("admin", True, flow.vars)
    assert admins == DecisionRule(frozenset({"alice@example.com"}), True)
    listed = DecisionRule.from_permission(("Dave@Example.com",), False, flow.vars)
    assert listed.approvers == frozenset({"dave@example.com"})
    with pytest.raises(ValueError, match="unknown permission level 'OWNER'"):
        DecisionRule.from_permission("OWNER", False, flow.vars)
    dave = Actor.user("dave@example.com")
    with pytest.raises(runs.Forbidden):
        decide(requested(flow), flow, dave, now=T0)
    approved_by_rule = runs.decide(
        requested(flow),
        flow,
        actor=dave,
        approve=True,
        reason=None,
        now=T0,
        channel="api",
        target_key="prod_db",
        rule=listed,
    ).run
    assert approved_by_rule.status is RunStatus.APPROVED


def test_a_failing_after_hook_keeps_its_step() -> None:
    flow = flow_of()
    run = escalated(flow)
    transition = runs.after_hook_failed(run, "after_escalate", "impl.py:4: boom", T0 + 11)
    assert transition.run.status is RunStatus.ESCALATED
    assert transition.run.grant == run.grant
    assert transition.run.errors == ("impl.py:4: boom",)
    assert transition.events[0].details == {"hook": "after_escalate"}


def routed(flow: Flow, *timeouts: float | None) -> Run:
    """A request posted to one notification per timeout, in order."""
    transition = runs.open_request(
        run_id="r1",
        flow=flow,
        requester="carol@example.com",
        submitted_by=CAROL,
        channel="api",
        fields={"reason": "incident", "duration": 600, "target": "prod-db"},
        now=T0,
        notifications=tuple(
            {"destinations": [f"#line-{index}"], "timeout": timeout}
            for index, timeout in enumerate(timeouts)
        ),
    )
    return transition.run


def test_a_timed_out_notification_forwards_the_request() -> None:
    flow = flow_of()
    run = routed(flow, 300, None)
    assert runs.routing_due(run) == ("forward", T0 + 300)
    assert runs.due_at(run) == T0 + 300
    with pytest.raises(runs.Conflict):
        runs.forward_request(run, T0 + 299)
    forwarded = runs.forward_request(run, T0 + 301)
    assert forwarded.run.notified == 1 and forwarded.run.notified_at == T0 + 301
    [event] = forwarded.events
    assert event.name == "request_forward"
    assert event.details == {"notification": 1, "destinations": ["#line-1"]}
    # The last notification has no timeout: the request waits for its time to live.
    assert runs.routing_due(forwarded.run) is None
    assert runs.due_at(forwarded.run) == forwarded.run.request_expires_at
    with pytest.raises(runs.Conflict):
        runs.forward_request(forwarded.run, T0 + 10_000)


def test_the_last_notifications_timeout_expires_the_request() -> None:
    flow = flow_of()
    run = runs.forward_request(routed(flow, 60, 120), T0 + 60).run
    assert runs.routing_due(run) == ("expire", T0 + 180)
    assert runs.request_expiry(run) == T0 + 180
    with pytest.raises(runs.Conflict):
        runs.expire_request(run, T0 + 179)
    assert runs.expire_request(run, T0 + 180).run.status is RunStatus.EXPIRED


def test_the_time_to_live_still_bounds_a_long_routing() -> None:
    flow = flow_of()
    run = routed(flow, 10 * 86_400)
    assert runs.request_expiry(run) == run.request_expires_at < T0 + 10 * 86_400
    assert runs.due_at(run) == run.request_expires_at


def test_only_the_requester_or_submitter_withdraws_a_pending_request() -> None:
    flow = flow_of()
    run = requested(flow)
    with pytest.raises(runs.Forbidden):
        runs.withdraw(run, actor=ALICE, reason=None, now=T0 + 1, channel="api")
    transition = runs.withdraw(run, actor=CAROL, reason="solved", now=T0 + 1, channel="cli")
    assert transition.run.status is RunStatus.WITHDRAWN
    assert (transition.run.ended_at, transition.run.ended_by) == (T0 + 1, CAROL)
    [event] = transition.events
    assert (event.name, event.details, event.channel) == ("withdraw", {"reason": "solved"}, "cli")
    assert runs.due_at(transition.run) is None
    with pytest.raises(runs.Conflict):
        runs.withdraw(transition.run, actor=CAROL, reason=None, now=T0 + 2, channel="api")
    with pytest.raises(runs.Conflict):
        runs.withdraw(approved(flow), actor=CAROL, reason=None, now=T0 + 2, channel="api")
