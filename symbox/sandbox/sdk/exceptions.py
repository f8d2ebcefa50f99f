"""`sym.sdk.exceptions`: the exception types hooks raise and catch, as in Sym's SDK."""

from __future__ import annotations


class SymException(Exception):
    """Base class of every SDK error; a hook raising one fails with its message."""

    def __init__(self, message: str = "", error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type or type(self).__name__


class IdentityError(SymException):
    """A user's identity in an integration could not be resolved."""


class PagerDutyError(SymException):
    """A PagerDuty call failed."""


class OktaError(SymException):
    """An Okta call failed."""


class SlackError(SymException):
    """A Slack call failed."""


class AWSError(SymException):
    """An AWS call failed."""


class AWSLambdaError(AWSError):
    """An AWS Lambda invocation failed."""


class AWSIAMError(AWSError):
    """An AWS IAM call failed (no such group, access denied, ...)."""


class AWSSSOError(AWSError):
    """An AWS IAM Identity Center call failed (no such group, access denied, ...)."""


class GitHubError(SymException):
    """A GitHub call failed."""


class KnowBe4Error(SymException):
    """A KnowBe4 call failed."""


class BoundaryError(SymException):
    """A Boundary call failed."""


class CouldNotSaveError(SymException):
    """Sym could not save a change."""


class TemplateError(SymException):
    """A template was built with invalid arguments."""


class UnsupportedError(SymException):
    """Part of the SDK that symbox does not implement yet."""


class AccessStrategyError(SymException):
    """A custom access strategy failed, or is written in a way symbox cannot run."""


class HTTPError(SymException):
    """An outbound HTTP call made through `requests` failed; base of the HTTP errors."""


class HTTPRefusedError(HTTPError):
    """symbox refused the call: a host not allowed, a scheme, a redirect elsewhere, a size."""


class HTTPStatusError(HTTPError):
    """`raise_for_status()` on a 4xx or 5xx answer (`requests.HTTPError` in hooks)."""


class HTTPConnectionError(HTTPError):
    """The server could not be reached (`requests.ConnectionError` in hooks)."""


class HTTPTimeoutError(HTTPError):
    """The server did not answer in time (`requests.Timeout` in hooks)."""


class HTTPJSONDecodeError(HTTPError, ValueError):
    """`Response.json()` on a body that is not JSON (`requests.JSONDecodeError` in hooks)."""


EXCEPTIONS: tuple[type[SymException], ...] = (
    SymException,
    IdentityError,
    PagerDutyError,
    OktaError,
    SlackError,
    AWSError,
    AWSLambdaError,
    AWSIAMError,
    AWSSSOError,
    GitHubError,
    KnowBe4Error,
    BoundaryError,
    CouldNotSaveError,
    TemplateError,
    UnsupportedError,
    AccessStrategyError,
    HTTPError,
    HTTPRefusedError,
    HTTPStatusError,
    HTTPConnectionError,
    HTTPTimeoutError,
    HTTPJSONDecodeError,
)
