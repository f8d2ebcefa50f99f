"""How many approvals a request needs, from whom, and whether those given so far suffice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from symbox.config.model import ApprovalGroup, Flow
from symbox.config.people import same_person
from symbox.engine.model import Actor, Decision, Run
from symbox.engine.permissions import DecisionRule, actor_entry


@dataclass(frozen=True)
class Quorum:
    """``required`` distinct approvers, with at least ``count`` from each group."""

    required: int
    groups: tuple[ApprovalGroup, ...] = ()

    @property
    def single(self) -> bool:
        """One approval of anyone permitted decides, as without a quorum."""
        return self.required <= 1 and not self.groups


def quorum_for(flow: Flow, rule: DecisionRule | None) -> Quorum:
    """The flow's quorum; a ``get_permissions`` answer's ``approvals_required`` overrides it."""
    params = flow.params
    groups = params.approvals
    required = params.approvals_required
    if rule is not None and rule.approvals_required is not None:
        required = rule.approvals_required
    # The groups' counts are each a part of the total, so the total is never less.
    return Quorum(max(required, sum(group.count for group in groups), 1), groups)


def required_for(run: Run, flow: Flow) -> int:
    """How many approvals ``run`` needs as far as is known without calling hooks."""
    if run.approvals_required is not None:
        return run.approvals_required
    return quorum_for(flow, None).required


def counted(quorum: Quorum, approvers: Sequence[Actor]) -> int:
    """How many of ``approvers`` count toward ``quorum`` (each fills one place at most)."""
    # The places to fill: each group's count, then the rest open to any permitted approver.
    places: list[frozenset[str] | None] = [
        group.members for group in quorum.groups for _ in range(group.count)
    ]
    places += [None] * (quorum.required - len(places))
    entries = [actor_entry(actor) for actor in approvers]
    taken: dict[int, int] = {}

    def place(person: int, seen: set[int]) -> bool:
        # An augmenting path: a person may take a place whose holder can move elsewhere.
        for index, members in enumerate(places):
            if index in seen or (members is not None and entries[person] not in members):
                continue
            seen.add(index)
            holder = taken.get(index)
            if holder is None or place(holder, seen):
                taken[index] = person
                return True
        return False

    return sum(1 for person in range(len(entries)) if place(person, set()))


def already_approved(run: Run, actor: Actor) -> bool:
    """Tell whether ``actor`` is among the run's approvers already."""
    for item in run.approvals:
        if item.actor == actor:
            return True
        if item.actor.kind == actor.kind == "user" and same_person(item.actor.id, actor.id):
            return True
    return False


def missing(quorum: Quorum, approvers: Sequence[Actor]) -> str:
    """Say which groups still lack approvals, for a refusal that would not count."""
    wanting = []
    for group in quorum.groups:
        have = sum(1 for actor in approvers if actor_entry(actor) in group.members)
        if have < group.count:
            wanting.append(f"{group.count - have} from {group.name}")
    return ", ".join(wanting) or "none"


def with_approval(run: Run, approval: Decision) -> tuple[Decision, ...]:
    """The run's approvals with ``approval`` added."""
    return (*run.approvals, approval)


def refusal(run: Run, quorum: Quorum, actor: Actor) -> tuple[str, str] | None:
    """Why ``actor``'s approval cannot count toward ``quorum``: ``(kind, message)``, or None.

    ``kind`` is ``"forbidden"`` (never theirs to give) or ``"conflict"`` (not now).
    """
    if (actor.kind == "user" and same_person(actor.id, run.requester)) or (
        actor == run.submitted_by
    ):
        # Self-approval may let one approval decide; it never makes one of several.
        return "forbidden", (
            f"the requester's own approval does not count toward the {quorum.required} "
            "approvals this request needs"
        )
    given = [item.actor for item in run.approvals]
    progress = f"{counted(quorum, given)} of {quorum.required}"
    if already_approved(run, actor):
        return "conflict", f"{actor} already approved run {run.id} ({progress})"
    if counted(quorum, [*given, actor]) <= counted(quorum, given):
        return "conflict", (
            f"{actor}'s approval would not count toward run {run.id}'s quorum ({progress}); "
            f"still needed: {missing(quorum, given)}"
        )
    return None
