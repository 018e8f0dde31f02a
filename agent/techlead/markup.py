"""Slack markup and typography → plain text, so the grammar only ever sees what the user typed."""

from __future__ import annotations

import html
import re

_SPECIAL = re.compile(r"<([^<>\n]+)>")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": " - ",
        "\u2212": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u2007": " ",
        "\u200b": "",
        "\u200c": "",
        "\u200d": "",
        "\ufeff": "",
        "\u2026": "...",
    }
)
_BULLET = re.compile(r"(?m)^[ \t]*(?:[•◦▪▫‣∙·*+-]|\d{1,2}[.)]|\(\d{1,2}\))[ \t]+")
_BOLD = re.compile(r"(?<![\w*])\*([A-Za-z][^*\n]*?)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w/])_([A-Za-z][^_\n]*?)_(?![\w/])")
_STRIKE = re.compile(r"(?<![\w~])~([A-Za-z][^~\n]*?)~(?![\w~])")


def _special(match: re.Match[str]) -> str:
    """One ``<...>`` Slack token: keep what a human typed (the label when there is one)."""
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@") or target.startswith("!here") or target.startswith("!channel"):
        return ""  # user mentions (the bot itself) and broadcast pings carry no request content
    if target.startswith("!subteam"):
        return label or ""
    if target.startswith("!date"):
        return label or ""
    if target.startswith("#"):
        return f"#{label}" if label else target  # an unnamed channel stays visible: it is asked about
    if target.startswith("mailto:"):
        return label if "@" in label else target[len("mailto:") :]
    return label or target


def normalize(text: str) -> str:
    """Slack escapes, links, mentions, smart quotes, bullets and formatting → plain text.

    Bullets and numbered items become line starts (newlines are kept: they separate steps).
    """
    text = text or ""
    text = _SPECIAL.sub(_special, text)
    text = html.unescape(text)  # &amp; &lt; &gt; after the <...> tokens, which use literal brackets
    text = text.translate(_QUOTES)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"```[a-z]*\n?", "\n", text)
    text = _BULLET.sub("", text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    text = _STRIKE.sub(r"\1", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" *\n[ \n]*", "\n", text)
    return text.strip()
