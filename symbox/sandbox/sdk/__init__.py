"""The `sym.sdk` facade hooks import inside the worker, under Sym's module paths."""

from __future__ import annotations

from symbox.sandbox.sdk import exceptions, forms, notifications, request_permission
from symbox.sandbox.sdk.annotations import hook, prefetch, reducer
from symbox.sandbox.sdk.http import requests_modules
from symbox.sandbox.sdk.integrations import (
    AwsIam,
    AwsLambda,
    AwsSso,
    GitHub,
    IntegrationChannel,
    KnowBe4,
    Okta,
    PagerDuty,
    Slack,
)
from symbox.sandbox.sdk.placeholders import SDK_PACKAGE, ExceptionsModule, sdk_module
from symbox.sandbox.sdk.strategies import AccessStrategy, Integration
from symbox.sandbox.sdk.templates import ApprovalTemplate, ApprovalTemplateStep, GetStepOutput


def sdk_modules(channel: IntegrationChannel | None = None) -> dict[str, object]:
    """`sym.sdk.*` and `requests` stand-ins; integration calls go through `channel` to the host."""
    # Without a channel (host-side compiles, in-process tests) integration calls fail clearly.
    bridge = channel if channel is not None else IntegrationChannel(None)
    return {
        # Open: a `sym.sdk` name or module symbox lacks imports, and fails when used.
        SDK_PACKAGE: sdk_module(SDK_PACKAGE),
        "sym.sdk.annotations": sdk_module(
            "sym.sdk.annotations",
            {"hook": hook, "reducer": reducer, "prefetch": prefetch},
        ),
        "sym.sdk.templates": sdk_module(
            "sym.sdk.templates",
            {
                "ApprovalTemplate": ApprovalTemplate,
                "ApprovalTemplateStep": ApprovalTemplateStep,
                "get_step_output": GetStepOutput(bridge),
            },
        ),
        "sym.sdk.exceptions": ExceptionsModule(
            "sym.sdk.exceptions", {kind.__name__: kind for kind in exceptions.EXCEPTIONS}
        ),
        "sym.sdk.request_permission": sdk_module(
            "sym.sdk.request_permission",
            {
                "PermissionLevel": request_permission.PermissionLevel,
                "RequestPermission": request_permission.RequestPermission,
            },
        ),
        "sym.sdk.notifications": sdk_module(
            "sym.sdk.notifications", {"Notification": notifications.Notification}
        ),
        "sym.sdk.strategies": sdk_module(
            "sym.sdk.strategies", {"AccessStrategy": AccessStrategy, "Integration": Integration}
        ),
        "sym.sdk.forms": sdk_module(
            "sym.sdk.forms",
            {
                "FieldOption": forms.FieldOption,
                "FieldType": forms.FieldType,
                "PromptField": forms.PromptField,
                "SymPromptForm": forms.SymPromptForm,
            },
        ),
        # Older Sym hooks import FieldOption from here.
        "sym.sdk.field_option": sdk_module(
            "sym.sdk.field_option", {"FieldOption": forms.FieldOption}
        ),
        "sym.sdk.integrations": sdk_module(
            "sym.sdk.integrations",
            {
                "pagerduty": PagerDuty(bridge),
                "okta": Okta(bridge),
                "aws_iam": AwsIam(bridge),
                "aws_sso": AwsSso(bridge),
                "slack": Slack(bridge),
                "aws_lambda": AwsLambda(bridge),
                "github": GitHub(bridge),
                "knowbe4": KnowBe4(bridge),
            },
        ),
        # Sym's custom strategies `import requests`; here its calls go through the host.
        **requests_modules(bridge),
    }
