"""Every API error as JSON ``{error, message, code, status_code}``."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from symbox.errors import BadRequest, Conflict, Forbidden, InputError, NotFound, Unavailable

_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with its HTTP status and a stable machine-readable code."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers
        # Fields an error adds to the body, such as the run a duplicate request names.
        self.extra = extra


def error_response(
    status_code: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> JSONResponse:
    """Build the JSON error body every API failure uses."""
    body: dict[str, object] = {
        "error": _ERROR_NAMES.get(status_code, "error"),
        "message": message,
        "code": code,
        "status_code": status_code,
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status_code, headers=headers)


def from_exception(error: Exception) -> ApiError | None:
    """Map a service error onto an ApiError, or None if it is not one the API expects."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, InputError):
        return ApiError(400, "invalid_inputs", str(error))
    if isinstance(error, BadRequest):
        return ApiError(400, "bad_request", str(error))
    if isinstance(error, Forbidden):
        return ApiError(403, "forbidden", str(error))
    if isinstance(error, NotFound):
        return ApiError(404, "not_found", str(error))
    if isinstance(error, Conflict):
        code = getattr(error, "code", "wrong_state")
        run_id = getattr(error, "run_id", None)
        extra = {"run_id": run_id} if run_id else None
        return ApiError(409, code, str(error), extra=extra)
    if isinstance(error, Unavailable):
        return ApiError(503, error.code, str(error))
    return None
