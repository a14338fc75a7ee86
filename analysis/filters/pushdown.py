"""Filter pushdown: text a matching trace must contain, so a store can skip traces without decoding them.

``required_text`` walks a parsed (group-expanded) expression and returns string values that every
matching trace has somewhere in its spans' attributes, annotations or resource: the values of
positive string comparisons (``=``, CONTAINS, BEGINSWITH, ENDSWITH) on attribute-backed keywords
that must hold (under AND, and inside service()/edge() blocks, never under ``!`` or OR). The store
(``Store.trace_ids_containing``) returns the traces whose stored JSON holds them all, a superset of the
matches; the predicate then decides. Values the store's JSON could escape (quotes, backslashes,
control or non-ASCII characters) are left out, which only widens the superset.

>>> from spanscope.analysis.filters.grammar import parse_filter
>>> required_text(parse_filter('attribute.http.route = "/api/graphql" AND (fault OR user = "bob")'))
('/api/graphql',)
>>> required_text(parse_filter('!annotation.tier = "gold"'))
()
"""

from __future__ import annotations

from spanscope.analysis.filters.grammar import KEYED_PREFIXES, And, Compare, Edge, Node, Service

__all__ = ["MIN_NEEDLE_CHARS", "required_text"]

MIN_NEEDLE_CHARS = 3  # shorter values match almost everything: not worth a scan
_ATTRIBUTE_KEYWORDS = frozenset(
    {"http.url", "http.method", "http.useragent", "http.clientip", "user", "availabilityzone", "instance.id",
     "resource.arn"}
)  # fmt: skip
_POSITIVE_OPS = frozenset({"=", "CONTAINS", "BEGINSWITH", "ENDSWITH"})


def _plain(text: str) -> bool:
    return len(text) >= MIN_NEEDLE_CHARS and all(" " <= c <= "~" and c not in '"\\' for c in text)


def required_text(node: Node) -> tuple[str, ...]:
    """Values every trace matching ``node`` contains in its stored span or resource attributes."""
    out: list[str] = []
    stack: list[Node] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, And):
            stack.extend(reversed(item.items))
        elif isinstance(item, Service | Edge):
            if item.body is not None:
                stack.append(item.body)
        elif isinstance(item, Compare) and item.op in _POSITIVE_OPS and isinstance(item.value, str):
            keyed = any(item.keyword.startswith(p + ".") for p in KEYED_PREFIXES)
            if (keyed or item.keyword in _ATTRIBUTE_KEYWORDS) and _plain(item.value) and item.value not in out:
                out.append(item.value)
    return tuple(out)
