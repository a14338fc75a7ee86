"""Compile a parsed X-Ray filter expression into a predicate over a Trace (no eval of any text).

Simple keywords describe the trace as a whole, as X-Ray's do: the status, response time and HTTP
fields of its entry span, ``duration`` of the whole trace, ``user`` and annotations of any span,
``partial`` when any span is still in progress. Inside ``service(...) { }`` and ``edge(...) { }`` the
same keywords describe one node's span at a time (an entry span of the service, or a client span
for an inferred downstream node such as DynamoDB); the block is true when any such span matches.

>>> from spanscope.collectors.model import Span, Status, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=2_000_000_000),
...     Span(tid, "b" * 16, "a" * 16, "db", "query", start_ns=1, end_ns=5, status=Status.FAULT),
... ])
>>> compile_filter('ok AND responsetime >= 2')(t), compile_filter('service("db") { fault }')(t)
(True, True)
>>> compile_filter('edge("api", "db") { !fault }')(t)
False
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from spanscope.analysis.filters.grammar import (
    And,
    Compare,
    Edge,
    Node,
    Not,
    Or,
    Selector,
    Service,
    parse_filter,
)
from spanscope.collectors import conventions as cv
from spanscope.collectors.model import Span, Status, Trace

__all__ = ["TracePredicate", "compile_filter", "compile_node"]

TracePredicate = Callable[[Trace], bool]
# (trace, subject span or None for the whole trace) -> bool
_Pred = Callable[[Trace, Span | None], bool]

_STRING_ATTRS: Final[dict[str, tuple[str, ...]]] = {
    "http.url": (cv.HTTP_URL, cv.HTTP_URL_OLD),
    "http.method": (cv.HTTP_METHOD, cv.HTTP_METHOD_OLD),
    "http.useragent": (cv.HTTP_USER_AGENT, cv.HTTP_USER_AGENT_OLD),
    "http.clientip": (cv.HTTP_CLIENT_IP, cv.HTTP_CLIENT_IP_OLD),
    "user": (cv.USER, "user"),
}


def compile_filter(expression: str) -> TracePredicate:
    """A predicate over traces for an X-Ray filter expression (raises FilterSyntaxError)."""
    pred = compile_node(parse_filter(expression))

    def matches(trace: Trace) -> bool:
        return pred(trace, None)

    return matches


def compile_node(node: Node) -> _Pred:
    """The predicate of one syntax tree node."""
    if isinstance(node, Compare):
        return _compare(node)
    if isinstance(node, Not):
        inner = compile_node(node.item)
        return lambda t, s: not inner(t, s)
    if isinstance(node, And):
        items = [compile_node(n) for n in node.items]
        return lambda t, s: all(p(t, s) for p in items)
    if isinstance(node, Or):
        alts = [compile_node(n) for n in node.items]
        return lambda t, s: any(p(t, s) for p in alts)
    if isinstance(node, Service):
        return _service(node)
    return _edge(node)


# --- node selection -------------------------------------------------------------------------------


def _node_type(span: Span) -> str:
    if span.namespace == "aws" and span.remote_service:
        return f"AWS::{span.remote_service}"
    if span.namespace == "remote" and span.remote_service:
        return "remote"
    return span.origin


def _type_matches(wanted: str | None, span: Span, actual: str) -> bool:
    if wanted is None:
        return True
    if wanted == actual:
        return True
    # an inferred AWS node: "AWS::DynamoDB::Table" names the node we call AWS::DynamoDB
    return span.namespace == "aws" and bool(actual) and wanted.startswith(actual + "::")


def _node_spans(trace: Trace, selector: Selector) -> list[Span]:
    """Spans standing for a service node: entry spans of the service, client spans of inferred nodes."""
    spans = trace.spans
    out: list[Span] = []
    name = selector.name
    for i, _depth in trace.preorder():
        span = spans[i]
        if (
            span.remote_service
            and span.namespace in ("aws", "remote")
            and (name is None or span.remote_service == name)
            and _type_matches(selector.type, span, _node_type(span))
        ):
            out.append(span)
        if name is not None and span.service != name:
            continue
        if not span.service:
            continue
        p = trace.parent(i)
        if p is not None and spans[p].service == span.service:
            continue
        if _type_matches(selector.type, span, span.origin):
            out.append(span)
    return out


def _service(node: Service) -> _Pred:
    body = compile_node(node.body) if node.body is not None else None
    selector = node.selector

    def pred(trace: Trace, _subject: Span | None) -> bool:
        nodes = _node_spans(trace, selector)
        if body is None:
            return bool(nodes)
        return any(body(trace, s) for s in nodes)

    return pred


def _sel_matches(selector: Selector, service: str, span: Span, node_type: str) -> bool:
    if selector.name is not None and selector.name != service:
        return False
    return _type_matches(selector.type, span, node_type)


def _service_entry(trace: Trace, i: int) -> Span:
    """The span through which the request entered the service of span ``i`` (its segment)."""
    spans = trace.spans
    service = spans[i].service
    node = i
    for _ in range(len(spans)):
        p = trace.parent(node)
        if p is None or spans[p].service != service:
            break
        node = p
    return spans[node]


def _edge_spans(trace: Trace, source: Selector, target: Selector) -> list[Span]:
    """Spans standing for calls along an edge: the callee's entry span, or the client span of an
    inferred downstream node."""
    spans = trace.spans
    out: list[Span] = []
    for i, _depth in trace.preorder():
        span = spans[i]
        if span.remote_service and span.namespace in ("aws", "remote"):
            if _sel_matches(target, span.remote_service, span, _node_type(span)):
                entry = _service_entry(trace, i)
                if _sel_matches(source, span.service, entry, entry.origin):
                    out.append(span)
            continue
        p = trace.parent(i)
        if p is None:
            continue
        parent = spans[p]
        if parent.service == span.service or not span.service:
            continue
        caller = _service_entry(trace, p)  # the caller's node type is its entry span's origin
        if _sel_matches(source, parent.service, caller, caller.origin) and _sel_matches(
            target, span.service, span, span.origin
        ):
            out.append(span)
    return out


def _edge(node: Edge) -> _Pred:
    body = compile_node(node.body) if node.body is not None else None
    source, target = node.source, node.target

    def pred(trace: Trace, _subject: Span | None) -> bool:
        calls = _edge_spans(trace, source, target)
        if body is None:
            return bool(calls)
        return any(body(trace, s) for s in calls)

    return pred


# --- keywords ---------------------------------------------------------------------------------------


def _subject(trace: Trace, span: Span | None) -> Span | None:
    return span if span is not None else trace.root


def _status_flag(keyword: str, span: Span | None) -> bool:
    status = span.status if span is not None else Status.OK
    if keyword == "ok":
        return status is Status.OK
    if keyword == "error":
        return status is Status.ERROR or status is Status.THROTTLE
    if keyword == "throttle":
        return status is Status.THROTTLE
    return status is Status.FAULT


def _bool_value(keyword: str, trace: Trace, span: Span | None) -> bool:
    if keyword == "partial":
        if span is not None:
            return span.in_progress
        return any(s.in_progress for s in trace.spans)
    return _status_flag(keyword, _subject(trace, span))


def _number_value(keyword: str, trace: Trace, span: Span | None) -> float | None:
    if keyword == "http.status":
        subject = _subject(trace, span)
        if subject is None:
            return None
        code = cv.http_status(subject.attributes)
        return None if code is None else float(code)
    if keyword == "duration" and span is None:
        if not trace.spans:
            return None
        return max(0, trace.end_ns - trace.start_ns) / 1e9
    subject = _subject(trace, span)
    return None if subject is None else subject.duration_ns / 1e9


def _string_values(keyword: str, trace: Trace, span: Span | None) -> list[str]:
    keys = _STRING_ATTRS[keyword]
    if keyword == "user" and span is None:
        subjects: list[Span] = trace.spans
    else:
        subject = _subject(trace, span)
        subjects = [] if subject is None else [subject]
    out: list[str] = []
    for s in subjects:
        for key in keys:
            value = s.attributes.get(key)
            if isinstance(value, str):
                out.append(value)
                break
    return out


_NUMBER_CMP: Final[dict[str, Callable[[float, float], bool]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_STRING_CMP: Final[dict[str, Callable[[str, str], bool]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "CONTAINS": lambda a, b: b in a,
    "BEGINSWITH": lambda a, b: a.startswith(b),
    "ENDSWITH": lambda a, b: a.endswith(b),
}


def _annotation_values(key: str, trace: Trace, span: Span | None) -> list[object]:
    subjects = trace.spans if span is None else [span]
    out: list[object] = []
    for s in subjects:
        if key in s.annotations:
            out.append(s.annotations[key])
    return out


def _compare(node: Compare) -> _Pred:
    keyword, op, value = node.keyword, node.op, node.value
    if keyword.startswith("annotation."):
        return _annotation(keyword[len("annotation.") :], op, value)
    if op == "" or isinstance(value, bool):
        want = value if op in ("", "=") else not value

        def boolean(trace: Trace, span: Span | None) -> bool:
            return _bool_value(keyword, trace, span) == want

        return boolean
    if isinstance(value, float):
        ncmp = _NUMBER_CMP[op]
        nval = value

        def number(trace: Trace, span: Span | None) -> bool:
            actual = _number_value(keyword, trace, span)
            return actual is not None and ncmp(actual, nval)

        return number
    scmp = _STRING_CMP[op]
    sval = value
    negative = op == "!="

    def string(trace: Trace, span: Span | None) -> bool:
        values = _string_values(keyword, trace, span)
        if negative:
            return all(scmp(v, sval) for v in values) if values else True
        return any(scmp(v, sval) for v in values)

    return string


def _annotation(key: str, op: str, value: str | float | bool) -> _Pred:
    def pred(trace: Trace, span: Span | None) -> bool:
        values = _annotation_values(key, trace, span)
        if op == "":
            return bool(values)
        if op == "!=":
            return all(not _annotation_equal(v, value) for v in values)
        return any(_annotation_cmp(v, op, value) for v in values)

    return pred


def _annotation_equal(actual: object, wanted: str | float | bool) -> bool:
    if isinstance(wanted, bool):
        return isinstance(actual, bool) and actual is wanted
    if isinstance(wanted, float):
        return isinstance(actual, int | float) and not isinstance(actual, bool) and float(actual) == wanted
    return isinstance(actual, str) and actual == wanted


def _annotation_cmp(actual: object, op: str, wanted: str | float | bool) -> bool:
    if op == "=":
        return _annotation_equal(actual, wanted)
    if isinstance(wanted, float):
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        return _NUMBER_CMP[op](float(actual), wanted)
    if isinstance(wanted, str) and isinstance(actual, str):
        return _STRING_CMP[op](actual, wanted)
    return False
