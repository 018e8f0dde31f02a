"""HTTP plumbing: a real socket the unmodified databricks-sdk talks to, plus the emulator's own API.

Each request: record (method, path) -> control endpoints (`/_emulator/...`, no auth, not recorded)
-> injected latency / fault -> bearer token to principal (none: 401, unknown: 403) -> size and JSON
parsing -> route -> handler under the state lock, as that principal -> save if changed -> JSON (or
raw bytes) out. A request whose client has gone away
(timeout, killed process) is still processed to the end, as a real server would.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from dataclasses import asdict
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from standins.databricks import principals
from standins.databricks.clusters import host_metadata
from standins.databricks.errors import ApiError, invalid_token, malformed
from standins.databricks.params import Request
from standins.databricks.routes import find
from standins.databricks.workspace_files import RawBody

log = logging.getLogger("standins.databricks")
MAX_BODY = 10 * 1024 * 1024
UNAUTHENTICATED = "Credential was not sent or was of an unsupported type for this API."


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Any):
        self.emulator = emulator
        self.open_sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self):
        conn, addr = super().get_request()
        with self._sockets_lock:
            self.open_sockets.add(conn)
        return conn, addr

    def shutdown_request(self, request):
        with self._sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._sockets_lock:
            sockets, self.open_sockets = list(self.open_sockets), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DatabricksWorkspaceEmulator/1.0"
    timeout = 120  # idle keep-alive connections give their thread back eventually
    disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait 40 ms between

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # dispatch() logs each request once, without headers (never the token)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http: " + format, *args)

    def _handle(self) -> None:
        emulator = self.server.emulator  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        path = unquote(parts.path).rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw, oversize = self._read_body()
        status, payload, headers = emulator._process(self.command, path, query, raw, oversize, self.headers)
        self._send(status, payload, headers)

    def _read_body(self) -> tuple[bytes, bool]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            return b"", False
        length = int(self.headers.get("Content-Length") or 0)
        if length <= MAX_BODY:
            return self.rfile.read(length), False
        remaining = length  # drain it, or the client sees a reset and the SDK retries forever
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        return b"", True

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        if isinstance(payload, RawBody):
            data, ctype = payload.content, payload.content_type
        else:
            data, ctype = json.dumps(payload).encode("utf-8"), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError) as exc:
            log.debug("client went away before the response was sent: %s", type(exc).__name__)
            self.close_connection = True


def parse_body(raw: bytes, content_type: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """JSON object or multipart form -> (fields, uploaded files)."""
    if content_type.lower().startswith("multipart/form-data"):
        message = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
        )
        fields: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if part.get_filename() is not None or name == "content":
                files[name] = data
            elif name:
                fields[name] = data.decode("utf-8", errors="replace")
        return fields, files
    if not raw.strip():
        return {}, {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed(f"Invalid JSON given in the body of the request: {exc}") from exc
    if not isinstance(body, dict):
        raise malformed("Invalid JSON given in the body of the request - expected a map")
    return body, {}


def bearer_token(headers: Any) -> str | None:
    value = headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def dispatch(
    emulator: Any, method: str, path: str, query: dict, raw: bytes, oversize: bool, headers: Any
) -> tuple[int, Any, dict[str, str]]:
    """Everything after the control endpoints: faults, auth, parsing, routing, the handler."""
    delay, fault = emulator.faults.take(method, path)
    if delay > 0:
        time.sleep(delay)
    try:
        if fault is not None:
            log.info("injected fault: %s %s -> %d %s", method, path, fault.status, fault.error_code)
            raise fault
        if path == "/.well-known/databricks-config" and method == "GET":
            return 200, host_metadata(emulator.url), {}
        token = bearer_token(headers)
        if token is None:
            raise ApiError(401, "UNAUTHENTICATED", UNAUTHENTICATED)
        with emulator.store.transaction():
            caller = principals.caller_for_token(emulator.store, token)
        if caller is None:
            raise invalid_token()
        if oversize:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "The request is larger than the 10 MB limit.")
        handler, path_params = find(emulator._routes, method, path)
        if handler is None:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        body, files = parse_body(raw, headers.get("Content-Type") or "")
        req = Request(method, path, query, body, emulator.url, caller.name, path_params, files, caller)
        store = emulator.store
        with store.transaction():
            result = handler(store, req)
        log.debug("%s %s -> 200", method, path)
        return 200, result, {}
    except ApiError as err:
        log.debug("%s %s -> %d %s: %s", method, path, err.status, err.error_code, err.message)
        return err.status, err.body(), err.headers
    except Exception:
        log.exception("emulator bug while handling %s %s", method, path)
        return 500, {"error_code": "INTERNAL_ERROR", "message": "The emulator failed on this request."}, {}


def control(emulator: Any, method: str, path: str, raw: bytes) -> tuple[int, Any, dict[str, str]]:
    """`/_emulator/...`: drive an out-of-process emulator (faults, reset, inspection)."""
    try:
        body, _ = parse_body(raw, "application/json")
    except ApiError as err:
        return err.status, err.body(), {}
    try:
        if path == "/_emulator/faults" and method == "POST":
            if "global_latency" in body:
                emulator.faults.latency = float(body.pop("global_latency"))
            if body:
                fault = emulator.faults.add(**body)
                return 200, {"fault": asdict(fault)}, {}
            return 200, {"latency": emulator.faults.latency}, {}
        if path == "/_emulator/faults" and method == "GET":
            return 200, {"faults": emulator.faults.pending(), "latency": emulator.faults.latency}, {}
        if path == "/_emulator/faults" and method == "DELETE":
            emulator.faults.clear()
            return 200, {}, {}
        if path == "/_emulator/reset" and method == "POST":
            emulator.reset(seed=bool(body.get("seed", True)))
            return 200, {}, {}
        if path == "/_emulator/calls" and method == "GET":
            return 200, {"calls": [list(c) for c in emulator.calls]}, {}
        if path == "/_emulator/jobs" and method == "GET":
            return 200, {"jobs": emulator.jobs_snapshot()}, {}
        if path == "/_emulator/principals" and method == "POST":
            return 200, add_principal(emulator, body), {}
    except (TypeError, ValueError) as exc:
        return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(exc)}, {}
    except ApiError as err:
        return err.status, err.body(), {}
    return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"No API found for '{method} {path}'"}, {}


def add_principal(emulator: Any, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /_emulator/principals`: {"kind": "user"|"service_principal"|"group", ...the fields of
    add_user / add_service_principal / add_group} -> {"token", "application_id"} (null when none)."""
    fields = dict(body)
    kind = fields.pop("kind", None)
    if kind == "user":
        return {"token": emulator.add_user(**fields), "application_id": None}
    if kind == "service_principal":
        app_id, token = emulator.add_service_principal(**fields)
        return {"token": token, "application_id": app_id}
    if kind == "group":
        emulator.add_group(**fields)
        return {"token": None, "application_id": None}
    raise ValueError(f"kind must be user, service_principal or group, got {kind!r}")
