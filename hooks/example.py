"""Hooks for the example flows: staging is pre-approved, production has its own approvers."""

from sym.sdk.annotations import hook
from sym.sdk.templates import ApprovalTemplate


@hook
def on_request(event):
    """Grant staging access without waiting for a person."""
    target = event.payload.fields.get("target")
    if target is not None and target.name == "staging-db":
        return ApprovalTemplate.approve(reason="staging access is pre-approved")


@hook
def on_approve(event):
    """Let only the people in vars["prod_approvers"] approve production access."""
    target = event.payload.fields.get("target")
    if target is None or target.name != "prod-db":
        return None
    allowed = [email.strip() for email in event.flow.vars.get("prod_approvers", "").split(",")]
    if event.user.email not in allowed:
        return ApprovalTemplate.ignore(
            message="production access needs an approver listed in prod_approvers"
        )
