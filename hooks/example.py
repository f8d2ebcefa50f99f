"""Hooks for the example flows: on-call and staging requests are pre-approved, production
has its own approvers."""

from sym.sdk.annotations import hook
from sym.sdk.exceptions import PagerDutyError
from sym.sdk.integrations import pagerduty
from sym.sdk.templates import ApprovalTemplate


@hook
def on_request(event):
    """Grant staging access, and anything to whoever is on call, without waiting."""
    target = event.payload.fields.get("target")
    if target is not None and target.name == "staging-db":
        return ApprovalTemplate.approve(reason="staging access is pre-approved")
    try:
        if pagerduty.is_on_call(event.user):
            return ApprovalTemplate.approve(reason="on call in PagerDuty")
    except PagerDutyError:
        # No pagerduty integration configured (or PagerDuty unreachable): a person decides.
        return None


@hook
def on_approve(event):
    """Let only those in vars["prod_approvers"] approve production access.

    event.user is whoever approves: a person, or a bot token (no email; its username is
    "bot:NAME", so a bot approves production only if prod_approvers lists it so).
    """
    target = event.payload.fields.get("target")
    if target is None or target.name != "prod-db":
        return None
    listed = event.flow.vars.get("prod_approvers", "").split(",")
    allowed = [entry.strip().lower() for entry in listed if entry.strip()]
    approver = event.user.email or event.user.username
    if approver not in allowed:
        return ApprovalTemplate.ignore(
            message="production access needs an approver listed in prod_approvers"
        )
