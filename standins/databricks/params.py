"""One parsed HTTP request, and typed access to its parameters with the service's error shapes.

GET endpoints read the query string and POST endpoints a JSON body; both go through `Request.arg`,
so handlers do not care which. A wrong JSON type is MALFORMED_REQUEST, a wrong value is left to the
handler (INVALID_PARAMETER_VALUE), as on the real service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from standins.databricks.errors import invalid, malformed


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    base_url: str = ""
    user: str = ""
    path_params: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # multipart parts that carried a filename
    caller: Any = None  # the token's principals.Caller; `user` is its name (an SP's application id)

    def arg(self, name: str) -> Any:
        if name in self.body:
            return self.body[name]
        return self.query.get(name)

    def int_arg(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            if required:
                raise invalid(f"Missing required field: {name}")
            return default
        return as_int(value, name)

    def bool_arg(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise malformed(f"Could not parse request object: {name} must be a boolean, got {value!r}")

    def str_arg(self, name: str, *, required: bool = False) -> str | None:
        value = self.arg(name)
        if value is None or value == "":
            if required:
                raise invalid(f"Missing required field: {name}")
            return None
        if not isinstance(value, str):
            raise malformed(
                f"Could not parse request object: {name} must be a string, got {type_name(value)}"
            )
        return value


def as_int(value: Any, name: str) -> int:
    """JSON ints, or digit strings (proto3 JSON sends int64 as strings); never booleans or floats."""
    if isinstance(value, bool):
        raise malformed(f"Could not parse request object: {name} must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    raise malformed(f"Could not parse request object: {name} must be an integer, got {value!r}")


def type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
