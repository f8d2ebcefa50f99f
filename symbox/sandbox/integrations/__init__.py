"""Host-side integration clients that run hooks' integration calls with the host's credentials."""

from __future__ import annotations

from symbox.sandbox.integrations.base import IntegrationProvider
from symbox.sandbox.integrations.github import GithubClient
from symbox.sandbox.integrations.okta import OktaClient
from symbox.sandbox.integrations.pagerduty import PagerDutyClient
from symbox.sandbox.integrations.provider import Integrations

__all__ = [
    "GithubClient",
    "IntegrationProvider",
    "Integrations",
    "OktaClient",
    "PagerDutyClient",
]
