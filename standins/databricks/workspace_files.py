"""Workspace API 2.0: notebooks, files and directories under `/`, addressed with or without `/Workspace`.

Faithful where clients notice: import needs the parent folder to exist (mkdirs creates parents),
conflicts are RESOURCE_ALREADY_EXISTS, unknown paths RESOURCE_DOES_NOT_EXIST "Path (...) doesn't exist.",
and `/Workspace/Shared/x` and `/Shared/x` name the same object.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from typing import Any

from standins.databricks.errors import ApiError, already_exists, invalid, malformed, not_found
from standins.databricks.params import Request
from standins.databricks.state import Store, now_ms

LANGUAGES = ("PYTHON", "SQL", "SCALA", "R")
FORMATS = ("SOURCE", "AUTO", "HTML", "JUPYTER", "DBC", "R_MARKDOWN", "RAW")
EXTENSIONS = {".py": "PYTHON", ".sql": "SQL", ".scala": "SCALA", ".r": "R", ".ipynb": "PYTHON", ".rmd": "R"}
FILE_TYPES = {"PYTHON": "py", "SQL": "sql", "SCALA": "scala", "R": "r"}
NOTEBOOK_HEADERS = (
    "# Databricks notebook source",
    "-- Databricks notebook source",
    "// Databricks notebook source",
)
MAX_CONTENT = 10 * 1024 * 1024


class RawBody:
    """A non-JSON response (export with direct_download)."""

    def __init__(self, content: bytes, content_type: str = "application/octet-stream"):
        self.content = content
        self.content_type = content_type


def canonical(path: Any) -> str:
    """`/Workspace/Shared/x/` -> `/Shared/x`; refuses relative or dotted paths like the service."""
    if not isinstance(path, str) or not path.strip():
        raise invalid("Path is required and must be an absolute workspace path, e.g. /Users/someone/notebook")
    text = path.strip()
    if not text.startswith("/"):
        raise invalid(f"Path ({text}) is not absolute; workspace paths start with /")
    parts = [p for p in text.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise invalid(f"Path ({text}) must not contain '.' or '..' segments")
    if parts[:1] == ["Workspace"]:
        parts = parts[1:]
    return "/" + "/".join(parts)


def lookup(store: Store, path: str) -> dict[str, Any] | None:
    """The stored object at `path` (either spelling), or None."""
    try:
        return store.data["objects"].get(canonical(path))
    except ApiError:
        return None


def put_object(
    store: Store,
    path: str,
    object_type: str,
    content: bytes,
    *,
    language: str | None = None,
    make_parents: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Create or replace one object; caller holds the lock."""
    path = canonical(path)
    objects = store.data["objects"]
    parent = posixpath.dirname(path)
    if path != "/":
        parent_obj = objects.get(parent)
        if parent_obj is None:
            if not make_parents:
                raise not_found(f"The parent folder ({parent}) does not exist.")
            put_object(store, parent, "DIRECTORY", b"", make_parents=True)
        elif parent_obj["object_type"] != "DIRECTORY":
            raise invalid(
                f"The parent path ({parent}) is a {parent_obj['object_type'].lower()}, not a folder."
            )
    existing = objects.get(path)
    if existing is not None:
        if object_type == "DIRECTORY" and existing["object_type"] == "DIRECTORY":
            return existing
        if existing["object_type"] == "DIRECTORY" or not overwrite:
            raise already_exists(f"Path ({path}) already exists.")
    now = now_ms()
    obj: dict[str, Any] = {
        "path": path,
        "object_type": object_type,
        "object_id": existing["object_id"] if existing else store.next_id("object"),
        "created_at": existing["created_at"] if existing else now,
        "modified_at": now,
    }
    if object_type == "NOTEBOOK":
        obj["language"] = language or "PYTHON"
    if object_type != "DIRECTORY":
        obj["content"] = base64.b64encode(content).decode("ascii")
        obj["size"] = len(content)
    objects[path] = obj
    store.mark_dirty()
    return obj


def public(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k != "content"}
    out["resource_id"] = str(obj["object_id"])
    if obj["object_type"] != "FILE":
        out.pop("size", None)
    return out


def _require(store: Store, req: Request) -> dict[str, Any]:
    path = canonical(req.str_arg("path", required=True))
    obj = store.data["objects"].get(path)
    if obj is None:
        raise not_found(f"Path ({req.arg('path')}) doesn't exist.")
    return obj


def get_status(store: Store, req: Request) -> dict[str, Any]:
    return public(_require(store, req))


def list_dir(store: Store, req: Request) -> dict[str, Any]:
    obj = _require(store, req)
    if obj["object_type"] != "DIRECTORY":
        return {"objects": [public(obj)]}
    since = req.int_arg("notebooks_modified_after")
    children = [
        public(o)
        for p, o in sorted(store.data["objects"].items())
        if p != "/"
        and posixpath.dirname(p) == obj["path"]
        and not (since is not None and o["object_type"] == "NOTEBOOK" and o["modified_at"] <= since)
    ]
    return {"objects": children} if children else {}


def mkdirs(store: Store, req: Request) -> dict[str, Any]:
    path = canonical(req.str_arg("path", required=True))
    objects = store.data["objects"]
    prefix = ""
    for part in [p for p in path.split("/") if p]:
        prefix += "/" + part
        existing = objects.get(prefix)
        if existing is not None and existing["object_type"] != "DIRECTORY":
            kind = existing["object_type"].lower()
            raise already_exists(f"Cannot create directory {path}: {prefix} already exists as a {kind}.")
    put_object(store, path, "DIRECTORY", b"", make_parents=True)
    return {}


def import_object(store: Store, req: Request) -> dict[str, Any]:
    path = canonical(req.str_arg("path", required=True))
    fmt = (req.str_arg("format") or "SOURCE").upper()
    if fmt not in FORMATS:
        raise invalid(f"Invalid format {fmt!r}; expected one of {', '.join(FORMATS)}")
    language = req.str_arg("language")
    if language is not None and language.upper() not in LANGUAGES:
        raise invalid(f"Invalid language {language!r}; expected one of {', '.join(LANGUAGES)}")
    language = language.upper() if language else None
    content = _content(req)
    if len(content) > MAX_CONTENT:
        raise ApiError(400, "MAX_NOTEBOOK_SIZE_EXCEEDED", "The content exceeds the 10 MB import limit.")
    stem, ext = posixpath.splitext(path)
    object_type, final_path = "NOTEBOOK", path
    if fmt == "RAW":
        object_type = "FILE"
    elif fmt == "AUTO":
        head = content[:200].decode("utf-8", errors="replace").lstrip()
        if ext.lower() == ".ipynb" or head.startswith(NOTEBOOK_HEADERS):
            language = language or EXTENSIONS.get(ext.lower(), "PYTHON")
            final_path = stem if ext.lower() in EXTENSIONS else path
        else:
            object_type = "FILE"
    elif fmt == "SOURCE" and language is None:
        raise invalid(
            "The language field is required to import a single notebook in SOURCE format "
            "(or use format AUTO to detect it)."
        )
    elif fmt in ("JUPYTER", "R_MARKDOWN") and ext.lower() in (".ipynb", ".rmd"):
        final_path = stem
        language = language or ("R" if fmt == "R_MARKDOWN" else "PYTHON")
    put_object(
        store, final_path, object_type, content, language=language, overwrite=req.bool_arg("overwrite")
    )
    return {}


def _content(req: Request) -> bytes:
    if "content" in req.files:
        return req.files["content"]
    value = req.arg("content")
    if value is None:
        return b""
    if not isinstance(value, str):
        raise malformed("Could not parse request object: content must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid("content is not valid base64") from exc


def export(store: Store, req: Request) -> dict[str, Any] | RawBody:
    obj = _require(store, req)
    fmt = (req.str_arg("format") or "SOURCE").upper()
    if fmt not in FORMATS:
        raise invalid(f"Invalid format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if obj["object_type"] == "DIRECTORY":
        raise invalid(
            f"Exporting the folder {obj['path']} is not supported by the emulator; export its items."
        )
    content = base64.b64decode(obj.get("content", ""))
    if req.bool_arg("direct_download"):
        return RawBody(content)
    if obj["object_type"] == "NOTEBOOK":
        file_type = FILE_TYPES.get(obj.get("language", "PYTHON"), "py")
    else:
        file_type = posixpath.splitext(obj["path"])[1].lstrip(".")
    return {"content": obj.get("content", ""), "file_type": file_type}


def delete(store: Store, req: Request) -> dict[str, Any]:
    obj = _require(store, req)
    path = obj["path"]
    if path == "/":
        raise invalid("The workspace root cannot be deleted.")
    objects = store.data["objects"]
    inside = [p for p in objects if p.startswith(path + "/")]
    if inside and not req.bool_arg("recursive"):
        raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty.")
    for p in [*inside, path]:
        del objects[p]
    store.mark_dirty()
    return {}
