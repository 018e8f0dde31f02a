"""API reference chunks extracted from the databricks-sdk that is installed, by parsing its source.

Why source and not introspection: field docstrings are bare string literals after each dataclass
field and vanish at runtime. Parsing with `ast` also means nothing from the SDK gets executed.
The installed SDK is the version the project actually talks to, so the reference always matches it.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .chunks import Chunk

API_ROOT = "https://docs.databricks.com/api/workspace"
ROOT_CLASS = ("jobs", "JobSettings")
PATH_DEPTH = 4  # JobSettings -> tasks[] -> new_cluster -> autoscale -> min_workers
PATHS_PER_FIELD = 3


def _is_permission_type(name: str) -> bool:
    return "Permission" in name or "AccessControl" in name


# module -> (docs URL for its types, filter on class names)
MODULES: dict[str, tuple[str, Callable[[str], bool]]] = {
    "jobs": (f"{API_ROOT}/jobs/create", lambda name: True),
    "compute": (f"{API_ROOT}/clusters/create", lambda name: True),
    "iam": (f"{API_ROOT}/permissions", _is_permission_type),
}


@dataclass
class FieldInfo:
    name: str
    annotation: str
    doc: str
    target: tuple[str, str] | None  # (module, class) the annotation points at
    is_list: bool


@dataclass
class ClassInfo:
    module: str
    name: str
    kind: str  # "type" | "enum" | "api"
    doc: str
    fields: list[FieldInfo] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    methods: list[tuple[str, list[str], str]] = field(default_factory=list)  # name, params, doc


def module_path(module: str) -> Path:
    """Where the installed SDK keeps `databricks.sdk.service.<module>` (found without importing it)."""
    spec = importlib.util.find_spec(f"databricks.sdk.service.{module}")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"databricks.sdk.service.{module}")
    return Path(spec.origin)


def sdk_version() -> str:
    from importlib.metadata import version

    return version("databricks-sdk")


def _clean(doc: str | None) -> str:
    return re.sub(r"[ \t]+\n", "\n", inspect.cleandoc(doc or ""))


def _resolve(node: ast.expr, module: str) -> tuple[tuple[str, str] | None, bool]:
    """Follow Optional/List/Dict down to the class an annotation names; report whether it is a list."""
    is_list = False
    while isinstance(node, ast.Subscript):
        outer = ast.unparse(node.value)
        if outer in ("List", "list"):
            is_list = True
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        node = args[-1]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return (node.value.id, node.attr), is_list
    if isinstance(node, ast.Name):
        return (module, node.id), is_list
    return None, is_list


def parse_module(module: str, source: str) -> list[ClassInfo]:
    """All top-level classes of one SDK service module, with their documented pieces."""
    out: list[ClassInfo] = []
    for cls in ast.parse(source).body:
        if not isinstance(cls, ast.ClassDef):
            continue
        bases = {ast.unparse(b) for b in cls.bases}
        kind = "enum" if "Enum" in bases else "api" if cls.name.endswith("API") else "type"
        info = ClassInfo(module, cls.name, kind, _clean(ast.get_docstring(cls)))
        body = cls.body
        for i, stmt in enumerate(body):
            if kind == "type" and isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                nxt = body[i + 1] if i + 1 < len(body) else None
                doc = ""
                if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                    doc = _clean(str(nxt.value.value))
                target, is_list = _resolve(stmt.annotation, module)
                annotation = ast.unparse(stmt.annotation)
                info.fields.append(FieldInfo(stmt.target.id, annotation, doc, target, is_list))
            elif kind == "enum" and isinstance(stmt, ast.Assign):
                info.values.extend(t.id for t in stmt.targets if isinstance(t, ast.Name))
            elif kind == "api" and isinstance(stmt, ast.FunctionDef):
                if stmt.name.startswith("_") or stmt.name.endswith("_and_wait"):
                    continue
                doc = ast.get_docstring(stmt)
                if doc:
                    args = stmt.args.args[1:] + stmt.args.kwonlyargs
                    info.methods.append((stmt.name, [a.arg for a in args], _clean(doc)))
        out.append(info)
    return out


def load_classes() -> dict[tuple[str, str], ClassInfo]:
    """Parsed classes of every configured module, keyed by (module, class name)."""
    classes: dict[tuple[str, str], ClassInfo] = {}
    for module, (_, keep) in MODULES.items():
        for info in parse_module(module, module_path(module).read_text(encoding="utf-8")):
            if keep(info.name):
                classes[(module, info.name)] = info
    return classes


def field_paths(classes: dict[tuple[str, str], ClassInfo]) -> dict[tuple[str, str, str], list[str]]:
    """Readable JSON paths of fields reachable from JobSettings, shortest first.

    Breadth-first so "schedule.quartz_cron_expression" wins over deeper routes; each type is
    expanded from at most a few paths so recursive shapes (for_each_task.task) stay bounded.
    """
    paths: dict[tuple[str, str, str], list[str]] = {}
    expanded: dict[tuple[str, str], int] = {}
    queue: deque[tuple[tuple[str, str], str, int]] = deque([(ROOT_CLASS, "", 0)])
    while queue:
        key, prefix, depth = queue.popleft()
        info = classes.get(key)
        if info is None or info.kind != "type" or expanded.get(key, 0) >= PATHS_PER_FIELD:
            continue
        expanded[key] = expanded.get(key, 0) + 1
        for f in info.fields:
            path = prefix + f.name
            slot = paths.setdefault((key[0], key[1], f.name), [])
            if len(slot) < PATHS_PER_FIELD:
                slot.append(path)
            if f.target in classes and depth + 1 < PATH_DEPTH:
                queue.append((f.target, path + ("[]" if f.is_list else "") + ".", depth + 1))
    return paths


def _method_url(api_class: str, method: str) -> str:
    service = api_class.removesuffix("API").lower()
    return f"{API_ROOT}/{service}/{method.replace('_', '')}"


def _method_summary(doc: str) -> str:
    """A method docstring without its long `:param` listing (the field chunks carry those)."""
    return doc.split("\n:param", 1)[0].split("\n:returns", 1)[0].strip()


def class_chunks(info: ClassInfo, paths: dict[tuple[str, str, str], list[str]]) -> list[Chunk]:
    """Chunks for one class: the type/enum/API itself, its documented fields or methods."""
    type_url = MODULES[info.module][0]
    base = {"class": info.name, "module": info.module}
    if info.kind == "enum":
        text = (info.doc + "\n\n" if info.doc else "") + f"Enum {info.name} values: " + ", ".join(info.values)
        return [Chunk(info.name, type_url, text, "sdk", {**base, "kind": "enum"})]
    if info.kind == "api":
        out = []
        if info.doc:
            out.append(Chunk(info.name, _method_url(info.name, "").rstrip("/"), info.doc, "sdk",
                             {**base, "kind": "api"}))
        for name, params, doc in info.methods:
            text = _method_summary(doc)
            if params:
                text += "\n\nParameters: " + ", ".join(params)
            out.append(Chunk(f"{info.name}.{name}", _method_url(info.name, name), text, "sdk",
                             {**base, "kind": "method", "method": name}))
        return out
    listing = "\n".join(f"- {f.name}: {f.annotation}" for f in info.fields)
    out = [Chunk(info.name, type_url, f"{info.doc}\n\nFields of {info.name}:\n{listing}".strip(), "sdk",
                 {**base, "kind": "type"})]
    for f in info.fields:
        if not f.doc:
            continue
        where = paths.get((info.module, info.name, f.name), [])
        title = f"{info.name}.{f.name}" + (f" ({where[0]})" if where else "")
        text = f"{f.doc}\n\nField {f.name} of {info.name}, type {f.annotation}."
        if where:
            text += "\nPath in job settings: " + "; ".join(where)
        meta = {**base, "kind": "field", "field": f.name, "type": f.annotation,
                "path": where[0] if where else None}
        out.append(Chunk(title, type_url, text, "sdk", meta))
    return out


def sdk_chunks() -> list[Chunk]:
    """Every chunk of the SDK reference, in source order."""
    classes = load_classes()
    paths = field_paths(classes)
    return [chunk for info in classes.values() for chunk in class_chunks(info, paths)]


def sdk_sources() -> list[Path]:
    """Files whose content determines the SDK part of the corpus (for fingerprinting)."""
    return [module_path(m) for m in MODULES]
