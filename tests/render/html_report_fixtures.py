"""Stores and parsing helpers shared by the HTML report tests: the sample shop with hostile span text, and
a reader for the report's elements, data attributes and embedded JSON."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from spanscope.collectors.model import Status
from spanscope.collectors.store import open_store

from tests.fixtures.tui.sample_store import sample_spans, shop_trace

#: Span text that would be markup, would end an element or an attribute, or reorder the text around it.
HOSTILE_NAMES = (
    "<script>alert(1)</script>",
    "</svg><img src=x onerror=alert(2)>",
    '"\' onmouseover="alert(3)',
    "gnp.\u202eexe\u2066 & </script><!--",
)


def hostile_spans() -> list[Any]:
    """The sample shop plus checkouts whose services and operations carry ``HOSTILE_NAMES``."""
    spans = sample_spans()
    for i, name in enumerate(HOSTILE_NAMES):
        extra = shop_trace(30 + i)
        for span in extra:
            if span.service == "payments":
                span.service = name
                span.status = Status.FAULT
            if span.name == "charge card":
                span.name = name
        extra[0].name = name
        spans.extend(extra)
    return spans


def write_store(path: Path, spans: list[Any]) -> Path:
    with open_store(path) as store:
        store.write_spans(spans)
    return path


class Elements(HTMLParser):
    """Every start tag of a document as (tag, attributes); the text of ``<script>`` data blocks by id."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: dict[str, str] = {}
        self._script: str | None = None
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.elements.append((tag, values))
        if tag == "script":
            self._script = values.get("id") or ""
            self.scripts[self._script] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.scripts[self._script] += data

    def with_class(self, tag: str, css_class: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == tag and css_class in (a.get("class") or "").split()]


def embedded_json(document: str, element_id: str) -> Any:
    return json.loads(Elements(document).scripts[element_id])


def inline_svgs(document: str) -> list[str]:
    """The ``<svg>…</svg>`` elements of a document (they do not nest in the report)."""
    return re.findall(r"<svg\b.*?</svg>", document, flags=re.S)
