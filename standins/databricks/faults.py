"""Fault injection: make the next N matching requests slow or fail the way a real workspace can.

What the unmodified databricks-sdk (0.162) does with each injected status — read from its
`_base_client.py`, `retries.py` and `errors/customizer.py`:

* 429 and 503, any method (POST included): the SDK reads `Retry-After` (whole seconds; missing, or
  an HTTP date, counts as 1) into `retry_after_secs`, sleeps that long plus 0-1 s of random jitter,
  and retries until `retry_timeout_seconds` (default 300) runs out. `Retry-After: 0` works: it sleeps
  only the jitter. When the budget runs out it raises `TimeoutError` chained to the last
  `TooManyRequests` / `TemporarilyUnavailable` (the typed error never reaches the caller).
* 500: not retried; raises `databricks.sdk.errors.InternalError` at once — unless the message contains
  one of the SDK's "transient" markers (e.g. "Unexpected error"), which our messages avoid.
* Other 4xx: raised at once as the class for the error code (`InvalidParameterValue`, ...).
* Latency beyond `http_timeout_seconds`: `requests` times out, the SDK treats that as retryable and
  re-sends the same request — including POSTs such as jobs/create, which the emulator then processes
  twice (the delayed original still completes), exactly like a slow real workspace.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from standins.databricks.errors import CODE_FOR_STATUS, FAULT_MESSAGES, ApiError


@dataclass
class Fault:
    """One rule: the next `count` requests whose path starts with `path_prefix` (and method matches)."""

    path_prefix: str = "/"
    status: int | None = None
    count: int = 1
    retry_after: int | None = None
    latency: float = 0.0
    method: str | None = None
    error_code: str | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.count > 0
            and path.startswith(self.path_prefix)
            and (self.method is None or self.method.upper() == method.upper())
        )

    def error(self) -> ApiError | None:
        if self.status is None:
            return None
        code = self.error_code or CODE_FOR_STATUS.get(self.status, "INTERNAL_ERROR")
        message = self.message or FAULT_MESSAGES.get(
            self.status, f"Injected failure with HTTP {self.status}."
        )
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        elif self.status in (429, 503):
            headers["Retry-After"] = "1"
        return ApiError(self.status, code, message, headers)


class FaultInjector:
    """Rules are consumed in the order they were added; `latency` delays every request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self.latency = 0.0

    def add(
        self,
        path_prefix: str = "/",
        status: int | None = None,
        count: int = 1,
        retry_after: int | None = None,
        latency: float = 0.0,
        method: str | None = None,
        error_code: str | None = None,
        message: str | None = None,
    ) -> Fault:
        if status is not None and not 400 <= int(status) <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status}")
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(
            path_prefix,
            None if status is None else int(status),
            int(count),
            None if retry_after is None else int(retry_after),
            float(latency),
            method,
            error_code,
            message,
        )
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.latency = 0.0

    def pending(self) -> list[dict]:
        with self._lock:
            return [asdict(f) for f in self._rules if f.count > 0]

    def take(self, method: str, path: str) -> tuple[float, ApiError | None]:
        """Consume the first matching rule: (seconds to wait, error to answer with or None)."""
        with self._lock:
            for fault in self._rules:
                if fault.matches(method, path):
                    fault.count -= 1
                    self._rules = [f for f in self._rules if f.count > 0]
                    return self.latency + fault.latency, fault.error()
            return self.latency, None
