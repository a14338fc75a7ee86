"""Writes SVG/HTML markup safely: escaping of untrusted text and attribute values, and number formatting.

Every string that reaches the HTML report or an SVG (span names, services, attribute values) passes
through ``text`` or ``attr``: control, escape and bidi characters are removed (``safe_text.clean``),
``& < > " '`` become character references, and lone surrogates become U+FFFD, so a span name can
neither open or close an element or an attribute nor reorder the text around it. Markup is only ever
assembled from these escaped pieces and fixed strings; nothing parses span text as markup.

>>> text('</svg><script>alert("x")</script>')
'&lt;/svg&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
>>> attrs({"class": "node", "data-name": 'a"b', "data-n": 3, "skip": None})
' class="node" data-name="a&quot;b" data-n="3"'
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

import orjson
from spanscope.render.safe_text import clean

_SURROGATES = re.compile("[\ud800-\udfff]")
_ATTR_NAME = re.compile(r"^[a-z][a-z0-9_:-]*$")


def text(value: object, *, max_length: int | None = None) -> str:
    """``value`` as escaped character data (also safe inside a quoted attribute)."""
    cleaned = clean(value, max_length=max_length)
    if _SURROGATES.search(cleaned):
        cleaned = _SURROGATES.sub("\ufffd", cleaned)
    return html.escape(cleaned, quote=True)


def num(value: float | int | None, digits: int = 2) -> str:
    """A coordinate or size: fixed decimals, no exponent, trailing zeros dropped."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    out = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if out in ("", "-0") else out


def attr_value(value: object) -> str:
    """An attribute value: numbers exact (``repr`` of floats round-trips), everything else escaped text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return text(value)


def attrs(values: Mapping[str, object]) -> str:
    """`` name="value"`` pairs (None values left out); names must be fixed lowercase identifiers."""
    parts = []
    for name, value in values.items():
        if value is None:
            continue
        if not _ATTR_NAME.match(name):
            raise ValueError(f"not an attribute name: {name!r}")
        parts.append(f' {name}="{attr_value(value)}"')
    return "".join(parts)


def json_script(element_id: str, document: Any) -> str:
    """A ``<script type="application/json">`` data block (never executed) that cannot end early.

    ``<``, ``>`` and ``&`` are written as JSON escapes, so no ``</script>`` or comment opener can appear in it.
    """
    # orjson first, as `print_json` writes the CLI's JSON (NaN and infinity become null), then ASCII only.
    plain = orjson.loads(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS))
    body = json.dumps(plain, ensure_ascii=True, separators=(",", ":"))
    body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json"{attrs({"id": element_id})}>{body}</script>'
