"""A local Unity Catalog REST stand-in: the catalogs, schemas and functions the unitycatalog client calls.

No Unity Catalog server can be installed here, so this speaks the open-source server's wire format under
`/api/2.1/unity-catalog` (errors as `{"error_code", "message", "details"}` with the HTTP status the
client maps to its exceptions) and the unmodified `UnitycatalogFunctionClient` talks to it over a
socket. It keeps everything in memory, seeds a catalog `main`, and records each request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from standins.http import LocalServer, send_json

log = logging.getLogger("standins.unitycatalog")
PREFIX = "/api/2.1/unity-catalog"
DATA_TYPES = {
    "BOOLEAN", "BYTE", "SHORT", "INT", "LONG", "FLOAT", "DOUBLE", "DATE", "TIMESTAMP", "TIMESTAMP_NTZ",
    "STRING", "BINARY", "DECIMAL", "INTERVAL", "ARRAY", "STRUCT", "MAP", "CHAR", "NULL",
}  # fmt: skip


class UCError(Exception):
    """An error reply in the server's shape; `status` is what the client turns into an exception."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        details = [{"@type": "google.rpc.ErrorInfo", "reason": self.code, "metadata": {}}]
        return {"error_code": self.code, "message": self.message, "details": details}


def _not_found(kind: str, name: str) -> UCError:
    return UCError(404, "NOT_FOUND", f"{kind} not found: {name}")


class UnityCatalogStandIn(LocalServer):
    """In-memory catalogs/schemas/functions behind a real socket; `start()` returns once it listens."""

    thread_name = "uc-standin"

    def __init__(self, catalogs: tuple[str, ...] = ("main",)):
        super().__init__()
        self.catalogs: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        self.functions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        for name in catalogs:
            self.catalogs[name] = _stamp({"name": name, "comment": "seeded by the stand-in"}, "id")

    # -- the API -------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Any:
        """One request -> a JSON-able reply, or UCError. Called under the lock."""
        parts = path.removeprefix(PREFIX).strip("/").split("/", 1)
        kind, name = parts[0], (parts[1] if len(parts) > 1 else "")
        route = {
            ("catalogs", "GET", False): lambda: self._page("catalogs", list(self.catalogs.values()), query),
            ("catalogs", "GET", True): lambda: self._get(self.catalogs, "Catalog", name),
            ("catalogs", "POST", False): lambda: self._create_catalog(body),
            ("schemas", "GET", False): lambda: self._list_schemas(query),
            ("schemas", "GET", True): lambda: self._get(self.schemas, "Schema", name),
            ("schemas", "POST", False): lambda: self._create_schema(body),
            ("functions", "GET", False): lambda: self._list_functions(query),
            ("functions", "GET", True): lambda: self._get(self.functions, "Function", name),
            ("functions", "POST", False): lambda: self._create_function(body),
            ("functions", "DELETE", True): lambda: self._delete_function(name),
        }.get((kind, method, bool(name)))
        if not path.startswith(PREFIX) or route is None:
            raise UCError(404, "NOT_FOUND", f"No API for {method} {path}")
        return route()

    def _get(self, table: dict[str, dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
        if name not in table:
            raise _not_found(kind, name)
        return table[name]

    def _page(self, key: str, items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        start = int(query.get("page_token") or 0)
        size = int(query.get("max_results") or 0) or len(items) or 1
        more = start + size < len(items)
        return {key: items[start : start + size], "next_page_token": str(start + size) if more else None}

    def _create_catalog(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _required(body, "name")
        if name in self.catalogs:
            raise UCError(400, "CATALOG_ALREADY_EXISTS", f"Catalog already exists: {name}")
        fields = {"name": name, "comment": body.get("comment"), "properties": body.get("properties")}
        self.catalogs[name] = _stamp(fields, "id")
        return self.catalogs[name]

    def _list_schemas(self, query: dict[str, str]) -> dict[str, Any]:
        catalog = self._get(self.catalogs, "Catalog", _required(query, "catalog_name"))["name"]
        found = [s for s in self.schemas.values() if s["catalog_name"] == catalog]
        return self._page("schemas", found, query)

    def _create_schema(self, body: dict[str, Any]) -> dict[str, Any]:
        name, catalog = _required(body, "name"), _required(body, "catalog_name")
        self._get(self.catalogs, "Catalog", catalog)
        full = f"{catalog}.{name}"
        if full in self.schemas:
            raise UCError(400, "SCHEMA_ALREADY_EXISTS", f"Schema already exists: {full}")
        fields = {"name": name, "catalog_name": catalog, "full_name": full, "comment": body.get("comment")}
        self.schemas[full] = _stamp({**fields, "properties": body.get("properties")}, "schema_id")
        return self.schemas[full]

    def _list_functions(self, query: dict[str, str]) -> dict[str, Any]:
        schema = f"{_required(query, 'catalog_name')}.{_required(query, 'schema_name')}"
        self._get(self.schemas, "Schema", schema)
        found = [f for f in self.functions.values() if f["full_name"].rsplit(".", 1)[0] == schema]
        return self._page("functions", found, query)

    def _create_function(self, body: dict[str, Any]) -> dict[str, Any]:
        info = body.get("function_info")
        if not isinstance(info, dict):
            raise UCError(400, "INVALID_ARGUMENT", "function_info is required")
        name, catalog, schema = (_required(info, k) for k in ("name", "catalog_name", "schema_name"))
        self._get(self.schemas, "Schema", f"{catalog}.{schema}")
        full = f"{catalog}.{schema}.{name}"
        if full in self.functions:
            raise UCError(409, "ALREADY_EXISTS", f"Function already exists: {full}")
        if info.get("data_type") not in DATA_TYPES:
            raise UCError(400, "INVALID_ARGUMENT", f"Invalid data_type: {info.get('data_type')}")
        if info.get("routine_body") not in ("SQL", "EXTERNAL"):
            raise UCError(400, "INVALID_ARGUMENT", f"Invalid routine_body: {info.get('routine_body')}")
        stored = {**info, "full_name": full, "owner": "standin", "created_by": "standin"}
        self.functions[full] = _stamp(stored, "function_id")
        return self.functions[full]

    def _delete_function(self, full: str) -> dict[str, Any]:
        self._get(self.functions, "Function", full)
        del self.functions[full]
        return {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait 40 ms between

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        stand_in: UnityCatalogStandIn = self.server.stand_in  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        path = unquote(parts.path).rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw.strip() else {}
            with stand_in._lock:
                stand_in.requests.append((self.command, path))
                status, reply = 200, stand_in.handle(self.command, path, query, body)
        except UCError as err:
            status, reply = err.status, err.body()
        except (ValueError, KeyError) as exc:
            status, reply = 400, UCError(400, "INVALID_ARGUMENT", f"Malformed request: {exc}").body()
        log.debug("%s %s -> %d", self.command, path, status)
        send_json(self, status, reply)

    do_POST = do_DELETE = do_PATCH = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _required(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise UCError(400, "INVALID_ARGUMENT", f"{key} is required")
    return value


def _stamp(fields: dict[str, Any], id_key: str) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {**fields, id_key: str(uuid.uuid4()), "created_at": now, "updated_at": now}


def serve(port: int = 8080) -> None:
    """Run until Ctrl-C (for `jobagent uc-server`)."""
    stand_in = UnityCatalogStandIn()
    url = stand_in.start(port=port)
    print(f"Unity Catalog stand-in on {url} (REST under {PREFIX}; catalog 'main'; in memory).")
    print(f"Try: JOBAGENT_UC_URL={url} jobagent tools register && jobagent tools list")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stand_in.stop()


UnityCatalogStandIn.handler = _Handler
