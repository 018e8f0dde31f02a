"""What Unity Catalog hands back is someone else's text: definitions are vetted before anything runs,
results are cleaned and capped before a person or the model reads them.

Names matter because clients build Python source from them (`def name(p1, p2):`): a parameter called
`x=__import__('os').system(...)` becomes a default value that runs when the definition is executed.
Only plain ASCII identifiers pass, so a name can never be code.
"""

from __future__ import annotations

import keyword
import unicodedata
from collections.abc import Iterable
from typing import Any

VIOLATION_CHARS = 500  # one policy violation, as shown in Slack and the note
TOOL_CHARS = 4000  # one function result, as fed to the model or printed
ERROR_CHARS = 300  # what a failing function says about its failure
NAME_CHARS = 80  # a refused name, as quoted in the refusal


def plain_name(name: Any) -> bool:
    """An ASCII identifier that is not a keyword and not a dunder."""
    return (
        isinstance(name, str)
        and name.isascii()
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and not (name.startswith("__") and name.endswith("__"))
    )


def param_names(info: Any) -> list[Any]:
    params = (info.input_params.parameters if getattr(info, "input_params", None) else None) or []
    return [p.name for p in params]


def function_name(info: Any) -> str:
    return info.full_name or f"{info.catalog_name}.{info.schema_name}.{info.name}"


def shown_name(info: Any) -> str:
    """The function's full name as it may be shown: as is when plain, else cleaned and quoted."""
    name = function_name(info)
    parts = [info.catalog_name, info.schema_name, info.name]
    if all(plain_name(p) for p in parts) and name == ".".join(parts):
        return name
    return quoted(clean(name, 200, one_line=True))


def refusal(info: Any) -> str | None:
    """Why this function must not be loaded or run, or None when its names are plain."""
    parts = {"catalog": info.catalog_name, "schema": info.schema_name, "function": info.name}
    for kind, value in parts.items():
        if not plain_name(value):
            return f"Refused function {shown_name(info)}: its {kind} name {_name(value)} {_RULE}"
    for name in param_names(info):
        if not plain_name(name):
            return f"Refused function {shown_name(info)}: parameter name {_name(name)} {_RULE}"
    return None


def check_names(function: str, params: Iterable[str]) -> None:
    """For our own definitions before they are created: raise ValueError on a name that is not plain."""
    for name in (function, *params):
        if not plain_name(name):
            raise ValueError(f"Refused to create {function!r}: the name {_name(name)} {_RULE}")


_RULE = (
    "is not a plain identifier (ASCII letters, digits and _, not a Python keyword or __dunder__); "
    "nothing was run. Fix or drop the function in Unity Catalog."
)


def _name(value: Any) -> str:
    return quoted(clean(repr(value), NAME_CHARS, one_line=True))


def clean(text: Any, limit: int, *, one_line: bool = False) -> str:
    """Printable text of at most `limit` characters: control and format characters (bidi overrides,
    zero-width, terminal escapes) removed; with `one_line`, all whitespace runs become one space."""
    raw = str(text)
    window = raw[: limit * 2 + 16]  # cleaning only shrinks text; never walk a huge answer
    kept = []
    for ch in window.replace("\r\n", "\n"):
        if ch in "\n\t" and not one_line:
            kept.append(ch)
        elif ch.isspace():
            kept.append(" ")
        elif not unicodedata.category(ch).startswith("C"):
            kept.append(ch)
    out = "".join(kept)
    out = " ".join(out.split()) if one_line else out.strip()
    if len(out) > limit or (len(raw) > len(window) and out):
        return out[: max(limit - 1, 0)].rstrip() + "…"
    return out


def quoted(text: str) -> str:
    """Inline code: inert in markdown (no links, images, HTML, headings or emphasis) and visibly
    someone else's words. Slack still needs its own escaping (bot/blocks.py `esc`). One line only."""
    return "`" + (text.replace("`", "'") or " ") + "`"
