"""Where and as whom symbox calls AWS: the settings one set of long-lived clients shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Service = Literal[
    "sso-admin", "identitystore", "iam", "lambda", "firehose", "kinesis", "secretsmanager"
]
# What STS grants at most for a role assumed by another role's credentials (role chaining).
ROLE_SESSION_SECONDS = 3600


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to call AWS; equal settings share one set of clients."""

    region: str | None = None
    # One URL for every service (an emulator or a proxy); None means AWS's own endpoints,
    # or whatever AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> say.
    endpoint_url: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = "symbox"
    # Attempts per call, the first included, in botocore's "standard" mode: throttling,
    # 5xx and dropped connections only, with jittered backoff. Longer retries belong to
    # the service.
    max_attempts: int = 3
    connect_timeout: float = 5.0
    read_timeout: float = 15.0

    def describe(self) -> str:
        """A short description for error messages, without the external id."""
        parts = [f"region {self.region or '(default)'}"]
        if self.role_arn:
            parts.append(f"role {self.role_arn}")
        if self.endpoint_url:
            parts.append(f"endpoint {self.endpoint_url}")
        return ", ".join(parts)
