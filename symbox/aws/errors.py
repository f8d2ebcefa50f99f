"""AWS failures as one exception type, classified as worth retrying later or not."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# 4xx codes that mean "not now" rather than "never": throttling, a concurrent change,
# credentials that expired in flight. Every other 4xx is the caller's problem.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "ConflictException",
        "ConcurrentModification",
        "ConcurrentModificationException",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "RequestExpired",
        "ExpiredToken",
        "ExpiredTokenException",
        "IDPCommunicationError",
    }
)
# Of those, the ones that mean "too many calls": the strategy's calls back off together.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NoSuchEntity", "NotFoundException"})
MESSAGE_LIMIT = 300


class AwsCallError(Exception):
    """An AWS call failed; ``permanent`` says a retry will not help until something changes."""

    def __init__(self, message: str, *, code: str, permanent: bool) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent

    @property
    def throttled(self) -> bool:
        """Whether AWS refused the call as one too many for now."""
        return self.code in THROTTLING_CODES

    @property
    def not_found(self) -> bool:
        """Whether AWS said the named resource does not exist."""
        return self.code in NOT_FOUND_CODES


def classify(operation: str, error: Exception) -> AwsCallError:
    """Turn a botocore failure of ``operation`` into an AwsCallError with a safe message."""
    # Imported here, not at the top: a failure means botocore is loaded already, and its
    # exceptions module alone would add ~17 ms to every start, AWS configured or not.
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
    )

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code") or "Unknown")
        text = str(details.get("Message") or "")[:MESSAGE_LIMIT]
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        permanent = 400 <= status < 500 and code not in TRANSIENT_CODES
        shown = f"{code}: {text}" if text else code
        return AwsCallError(f"{operation}: {shown}", code=code, permanent=permanent)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return AwsCallError(
            f"{operation}: no AWS credentials found", code="NoCredentials", permanent=True
        )
    if isinstance(error, NoRegionError):
        message = f"{operation}: no AWS region configured"
        return AwsCallError(message, code="NoRegion", permanent=True)
    if isinstance(error, ParamValidationError):
        # botocore's report names the parameter and the rule it broke, never credentials.
        report = str(error).replace("\n", " ")[:MESSAGE_LIMIT]
        return AwsCallError(f"{operation}: {report}", code="ParamValidation", permanent=True)
    if isinstance(error, ConnectionError | HTTPClientError):
        return AwsCallError(
            f"{operation}: {type(error).__name__} talking to AWS",
            code=type(error).__name__,
            permanent=False,
        )
    # Other botocore errors (credential refresh and the like) and anything unexpected.
    name = type(error).__name__
    return AwsCallError(f"{operation}: {name}", code=name, permanent=False)


async def call(operation: str, pending: Awaitable[T]) -> T:
    """Await one AWS call, raising AwsCallError instead of botocore's exceptions."""
    try:
        return await pending
    except Exception as error:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(error, BotoCoreError | ClientError):
            raise classify(operation, error) from None
        raise
