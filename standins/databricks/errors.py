"""Databricks-shaped API errors: `{"error_code": ..., "message": ...}` plus the matching HTTP status.

The SDK picks its exception class from `error_code` first and the status second, so both must agree
with what a real workspace sends for the client code under test to take the same branch.
"""

from __future__ import annotations

from typing import Any

# Default error code per HTTP status, as the platform uses them.
CODE_FOR_STATUS = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# Messages for injected faults. None may contain the SDK's "transient" markers (e.g. "Unexpected error"),
# or the SDK would retry a 500 that a real workspace would have it raise.
FAULT_MESSAGES = {
    401: "Credential was not sent or was of an unsupported type for this API.",
    403: "Invalid access token.",
    429: "Too many requests. Please wait a moment and retry.",
    500: "The server encountered an internal error while processing the request.",
    503: "The service is temporarily unavailable. Retry shortly.",
    504: "The request timed out inside the service.",
}


class ApiError(Exception):
    """Raised by handlers; the server turns it into the error response."""

    def __init__(
        self, status: int, error_code: str | int | None, message: str, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.error_code = error_code or CODE_FOR_STATUS.get(status, "INTERNAL_ERROR")
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}


def invalid(message: str) -> ApiError:
    """400 INVALID_PARAMETER_VALUE: a value the service refuses."""
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def malformed(message: str) -> ApiError:
    """400 MALFORMED_REQUEST: the request could not be read as the expected JSON shape."""
    return ApiError(400, "MALFORMED_REQUEST", message)


def not_found(message: str) -> ApiError:
    """404 RESOURCE_DOES_NOT_EXIST."""
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def already_exists(message: str) -> ApiError:
    """409 RESOURCE_ALREADY_EXISTS."""
    return ApiError(409, "RESOURCE_ALREADY_EXISTS", message)


def invalid_token() -> ApiError:
    """403 for a bearer token the workspace does not know. Source: real responses quoted in
    databricks/databricks-sdk-go#873 and #917: HTTP 403, `X-Databricks-Reason-Phrase: Invalid access
    token.`, body {"error_code": 403, "message": "Invalid access token."} (a number; the SDK falls back to
    the status and raises PermissionDenied)."""
    message = "Invalid access token."
    return ApiError(403, 403, message, {"X-Databricks-Reason-Phrase": message})
