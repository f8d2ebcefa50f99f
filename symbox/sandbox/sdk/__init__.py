"""The `sym.sdk` facade hooks import inside the worker, under Sym's module paths."""

from __future__ import annotations

from symbox.sandbox.guards import SafeModule
from symbox.sandbox.sdk import exceptions, forms, notifications, request_permission
from symbox.sandbox.sdk.annotations import hook, prefetch, reducer
from symbox.sandbox.sdk.http import requests_modules
from symbox.sandbox.sdk.integrations import (
    AwsIam,
    AwsLambda,
    AwsSso,
    GitHub,
    IntegrationChannel,
    Okta,
    PagerDuty,
    Slack,
)
from symbox.sandbox.sdk.placeholders import UnsupportedModule
from symbox.sandbox.sdk.strategies import AccessStrategy, Integration
from symbox.sandbox.sdk.templates import ApprovalTemplate


def sdk_modules(channel: IntegrationChannel | None = None) -> dict[str, object]:
    """`sym.sdk.*` and `requests` stand-ins; integration calls go through `channel` to the host."""
    # Without a channel (host-side compiles, in-process tests) integration calls fail clearly.
    bridge = channel if channel is not None else IntegrationChannel(None)
    return {
        "sym.sdk.annotations": SafeModule(
            "sym.sdk.annotations",
            {"hook": hook, "reducer": reducer, "prefetch": prefetch},
        ),
        "sym.sdk.templates": SafeModule(
            "sym.sdk.templates", {"ApprovalTemplate": ApprovalTemplate}
        ),
        "sym.sdk.exceptions": SafeModule(
            "sym.sdk.exceptions", {kind.__name__: kind for kind in exceptions.EXCEPTIONS}
        ),
        "sym.sdk.request_permission": SafeModule(
            "sym.sdk.request_permission",
            {
                "PermissionLevel": request_permission.PermissionLevel,
                "RequestPermission": request_permission.RequestPermission,
            },
        ),
        "sym.sdk.notifications": SafeModule(
            "sym.sdk.notifications", {"Notification": notifications.Notification}
        ),
        "sym.sdk.strategies": SafeModule(
            "sym.sdk.strategies", {"AccessStrategy": AccessStrategy, "Integration": Integration}
        ),
        "sym.sdk.forms": SafeModule(
            "sym.sdk.forms",
            {
                "FieldOption": forms.FieldOption,
                "FieldType": forms.FieldType,
                "PromptField": forms.PromptField,
                "SymPromptForm": forms.SymPromptForm,
            },
        ),
        # Older Sym hooks import FieldOption from here.
        "sym.sdk.field_option": SafeModule(
            "sym.sdk.field_option", {"FieldOption": forms.FieldOption}
        ),
        "sym.sdk.integrations": UnsupportedModule(
            "sym.sdk.integrations",
            {
                "pagerduty": PagerDuty(bridge),
                "okta": Okta(bridge),
                "aws_iam": AwsIam(bridge),
                "aws_sso": AwsSso(bridge),
                "slack": Slack(bridge),
                "aws_lambda": AwsLambda(bridge),
                "github": GitHub(bridge),
            },
        ),
        # Sym's custom strategies `import requests`; here its calls go through the host.
        **requests_modules(bridge),
    }
