"""Compile a parsed X-Ray filter expression into a predicate over a Trace (no eval of any text).

Simple keywords describe the trace as a whole, as X-Ray's do: the status, response time and HTTP
fields of its entry span, ``duration`` of the whole trace, ``user`` and annotations of any span,
``partial`` when any span is still in progress. Inside ``service(...) { }`` and ``edge(...) { }`` the
same keywords describe one node's span at a time (an entry span of the service, or a client span
for an inferred downstream node such as DynamoDB); the block is true when any such span matches.
Inside ``rootcause.KIND.LEVEL { }`` they describe the root causes' service nodes, entities or
messages (``spanscope.analysis.filters.rootcause``).

``attribute.KEY`` reads any span attribute, else the resource attribute of that key (keys with dots
are taken whole). ``annotation.KEY`` reads X-Ray annotations; a span that has none (data from
OpenTelemetry, Jaeger or Zipkin) lets its attributes stand in, so ``annotation.http.route`` finds
Jaeger tags. ``group.name = "NAME"`` is replaced by the saved group's expression (``groups``).

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

from collections.abc import Callable, Mapping
from typing import Final, TypeAlias

from spanscope.analysis.filters.grammar import (
    KEYED_PREFIXES,
    And,
    Compare,
    Edge,
    Node,
    Not,
    Or,
    RootCause,
    Selector,
    Service,
    parse_filter,
)
from spanscope.analysis.filters.rootcause import (
    Entity,
    entry_index,
    is_inferred_call,
    node_name,
    node_type,
    root_causes,
)
from spanscope.collectors import conventions as cv
from spanscope.collectors.errors import FilterSyntaxError
from spanscope.collectors.model import AttrValue, Span, Status, Trace

__all__ = ["GROUP_ARN_PREFIX", "TracePredicate", "compile_filter", "compile_node", "expand_groups", "group_arn"]

TracePredicate = Callable[[Trace], bool]
# What keywords describe: one span (inside service()/edge()), one root-cause element, or None (the trace)
Subject: TypeAlias = Span | Entity
# (trace, subject or None for the whole trace) -> bool
_Pred = Callable[[Trace, Subject | None], bool]
GROUP_ARN_PREFIX: Final = "arn:spanscope:xray:local:group/"

_STRING_ATTRS: Final[dict[str, tuple[str, ...]]] = {
    "http.url": (cv.HTTP_URL, cv.HTTP_URL_OLD),
    "http.method": (cv.HTTP_METHOD, cv.HTTP_METHOD_OLD),
    "http.useragent": (cv.HTTP_USER_AGENT, cv.HTTP_USER_AGENT_OLD),
    "http.clientip": (cv.HTTP_CLIENT_IP, cv.HTTP_CLIENT_IP_OLD),
    "user": (cv.USER, "user"),
    "availabilityzone": (cv.CLOUD_AZ, "availability_zone"),
    "instance.id": ("host.id", "aws.ec2.instance_id", "ec2.instance_id", "instance_id"),
    "resource.arn": ("cloud.resource_id", cv.LAMBDA_ARN, "aws.ecs.task.arn", "faas.id", "aws.arn", "resource_arn"),
}
# keywords whose value may be on the resource (the process) rather than the span
_RESOURCE_KEYWORDS: Final = frozenset({"availabilityzone", "instance.id", "resource.arn"})


def group_arn(name: str) -> str:
    """The ARN a saved group answers to in ``group.arn = "..."``."""
    return GROUP_ARN_PREFIX + name


def compile_filter(expression: str, *, groups: Mapping[str, str] | None = None) -> TracePredicate:
    """A predicate over traces for an X-Ray filter expression (raises FilterSyntaxError).

    ``groups`` maps saved group names to their filter expressions (``spanscope groups``); without
    it ``group.name``/``group.arn`` are an error that says where groups come from.
    """
    pred = compile_node(expand_groups(parse_filter(expression), groups, expression=expression))

    def matches(trace: Trace) -> bool:
        return pred(trace, None)

    return matches


def expand_groups(
    node: Node, groups: Mapping[str, str] | None, *, expression: str = "", _seen: tuple[str, ...] = ()
) -> Node:
    """``node`` with every ``group.name``/``group.arn`` comparison replaced by the group's parsed expression."""
    if isinstance(node, Compare) and node.keyword in ("group.name", "group.arn"):
        value = str(node.value)
        name = value
        if node.keyword == "group.arn":
            if not value.startswith(GROUP_ARN_PREFIX):
                raise FilterSyntaxError(
                    f"filter expression: column {node.column}: expected a group ARN starting with "
                    f"{GROUP_ARN_PREFIX}, found {value!r}",
                    expression=expression,
                    column=node.column,
                )
            name = value[len(GROUP_ARN_PREFIX) :]
        if groups is None:
            raise FilterSyntaxError(
                f"filter expression: column {node.column}: {node.keyword} needs the store's saved groups "
                "(spanscope groups add NAME EXPR), which this caller does not have",
                expression=expression,
                column=node.column,
            )
        if name not in groups:
            known = ", ".join(sorted(groups)) or "none saved"
            raise FilterSyntaxError(
                f"filter expression: column {node.column}: no group named {name!r} (groups: {known})",
                expression=expression,
                column=node.column,
            )
        if name in _seen:
            raise FilterSyntaxError(
                f"filter expression: column {node.column}: group {name!r} refers to itself "
                f"({' -> '.join((*_seen, name))})",
                expression=expression,
                column=node.column,
            )
        inner = expand_groups(parse_filter(groups[name]), groups, expression=groups[name], _seen=(*_seen, name))
        return Not(inner) if node.op == "!=" else inner
    if isinstance(node, Not):
        return Not(expand_groups(node.item, groups, expression=expression, _seen=_seen))
    if isinstance(node, And | Or):
        items = tuple(expand_groups(n, groups, expression=expression, _seen=_seen) for n in node.items)
        return And(items) if isinstance(node, And) else Or(items)
    if isinstance(node, Service | Edge | RootCause) and node.body is not None:
        body = expand_groups(node.body, groups, expression=expression, _seen=_seen)
        if isinstance(node, Service):
            return Service(node.selector, body)
        if isinstance(node, Edge):
            return Edge(node.source, node.target, body)
        return RootCause(node.kind, node.level, body)
    return node


def compile_node(node: Node) -> _Pred:
    """The predicate of one syntax tree node (groups already expanded)."""
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
    if isinstance(node, RootCause):
        return _rootcause(node)
    return _edge(node)


def _rootcause(node: RootCause) -> _Pred:
    body = compile_node(node.body)
    kind, level = node.kind, node.level

    def pred(trace: Trace, _subject: Subject | None) -> bool:
        for cause in root_causes(trace, kind):
            if level == "service":
                subjects: tuple[Entity, ...] = (cause.service,)
            elif level == "entity":
                subjects = cause.path
            else:
                subjects = (cause.cause,)
            if any(body(trace, e) for e in subjects):
                return True
        return False

    return pred


# --- node selection -------------------------------------------------------------------------------


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
            and _type_matches(selector.type, span, node_type(span))
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

    def pred(trace: Trace, _subject: Subject | None) -> bool:
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
    return trace.spans[entry_index(trace, i)]


def _edge_spans(trace: Trace, source: Selector, target: Selector) -> list[Span]:
    """Spans standing for calls along an edge: the callee's entry span, or the client span of an
    inferred downstream node."""
    spans = trace.spans
    out: list[Span] = []
    for i, _depth in trace.preorder():
        span = spans[i]
        if span.remote_service and span.namespace in ("aws", "remote"):
            if _sel_matches(target, span.remote_service, span, node_type(span)):
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

    def pred(trace: Trace, _subject: Subject | None) -> bool:
        calls = _edge_spans(trace, source, target)
        if body is None:
            return bool(calls)
        return any(body(trace, s) for s in calls)

    return pred


# --- keywords ---------------------------------------------------------------------------------------


def _span_of(subject: Subject | None) -> Span | None:
    return subject.span if isinstance(subject, Entity) else subject


def _subject(trace: Trace, subject: Subject | None) -> Span | None:
    return _span_of(subject) if subject is not None else trace.root


def _status_flag(keyword: str, span: Span | None) -> bool:
    status = span.status if span is not None else Status.OK
    if keyword == "ok":
        return status is Status.OK
    if keyword == "error":
        return status is Status.ERROR or status is Status.THROTTLE
    if keyword == "throttle":
        return status is Status.THROTTLE
    return status is Status.FAULT


def _bool_value(keyword: str, trace: Trace, subject: Subject | None) -> bool:
    span = _span_of(subject)
    if keyword == "partial":
        if span is not None:
            return span.in_progress
        return any(s.in_progress for s in trace.spans)
    if keyword in ("root", "inferred", "remote", "first", "last"):
        return _node_flag(keyword, trace, subject)
    return _status_flag(keyword, _subject(trace, subject))


def _node_flag(keyword: str, trace: Trace, subject: Subject | None) -> bool:
    if isinstance(subject, Entity):
        return bool(getattr(subject, keyword))
    if subject is None:  # the trace: it has a root; it has an inferred/remote node
        if keyword == "root":
            return bool(trace.spans)
        if keyword == "inferred":
            return any(is_inferred_call(s) for s in trace.spans)
        if keyword == "remote":
            return any(_is_remote(s) for s in trace.spans)
        return False
    if keyword == "root":
        root = trace.root
        return root is not None and not is_inferred_call(subject) and subject.service == root.service
    if keyword == "inferred":
        return is_inferred_call(subject)
    if keyword == "remote":
        return _is_remote(subject)
    return False  # first/last describe an element of a root cause's entity path


def _is_remote(span: Span) -> bool:
    return span.namespace == "remote" or any(x.remote for x in span.exceptions)


def _number_value(keyword: str, trace: Trace, subject: Subject | None) -> float | None:
    if keyword in ("index", "coverage"):
        if not isinstance(subject, Entity):
            return None
        return float(subject.index) if keyword == "index" else subject.coverage
    if keyword == "http.status":
        span = _subject(trace, subject)
        if span is None:
            return None
        code = cv.http_status(span.attributes)
        return None if code is None else float(code)
    if keyword == "duration" and subject is None:
        if not trace.spans:
            return None
        return max(0, trace.end_ns - trace.start_ns) / 1e9
    span = _subject(trace, subject)
    return None if span is None else span.duration_ns / 1e9


def _messages(span: Span) -> list[str]:
    out = [x.message for x in span.exceptions if x.message]
    if span.status_message:
        out.append(span.status_message)
    return out


def _string_values(keyword: str, trace: Trace, subject: Subject | None) -> list[str]:
    spans: list[Span]
    if subject is None:
        if keyword in ("user", "name", "type", "message") or keyword in _RESOURCE_KEYWORDS:
            spans = trace.spans
        else:
            spans = [] if trace.root is None else [trace.root]
    else:
        spans = [subject.span if isinstance(subject, Entity) else subject]
    if keyword == "name":
        if isinstance(subject, Entity):
            return [subject.name]
        names = {node_name(s) for s in spans} | {x.type for s in spans for x in s.exceptions if subject is None}
        return sorted(n for n in names if n)
    if keyword == "type":
        if isinstance(subject, Entity):
            return [subject.type]
        return sorted({t for t in (node_type(s) for s in spans) if t})
    if keyword == "message":
        return [m for s in spans for m in _messages(s)]
    keys = _STRING_ATTRS[keyword]
    on_resource = keyword in _RESOURCE_KEYWORDS
    out: list[str] = []
    for s in spans:
        for key in keys:
            value = s.attributes.get(key)
            if value is None and on_resource:
                value = s.resource.get(key)
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


def _keyed_values(prefix: str, key: str, trace: Trace, subject: Subject | None) -> list[object]:
    """Values of ``annotation.KEY`` or ``attribute.KEY`` on the subject span (or any span of the trace).

    A list-valued attribute contributes each element. Annotations fall back to attributes on spans
    that carry no X-Ray annotations at all.
    """
    span = _span_of(subject)
    spans = trace.spans if span is None else [span]
    out: list[object] = []
    for s in spans:
        if prefix == "annotation" and s.annotations:
            if key in s.annotations:
                out.append(s.annotations[key])
            continue
        value: AttrValue = s.attributes.get(key)
        if value is None:
            value = s.resource.get(key)
        if isinstance(value, list):
            out.extend(v for v in value if v is not None)
        elif value is not None:
            out.append(value)
    return out


def _compare(node: Compare) -> _Pred:
    keyword, op, value = node.keyword, node.op, node.value
    for prefix in KEYED_PREFIXES:
        if keyword.startswith(prefix + "."):
            return _keyed(prefix, keyword[len(prefix) + 1 :], op, value)
    if op == "" or isinstance(value, bool):
        want = value if op in ("", "=") else not value

        def boolean(trace: Trace, subject: Subject | None) -> bool:
            return _bool_value(keyword, trace, subject) == want

        return boolean
    if isinstance(value, float):
        ncmp = _NUMBER_CMP[op]
        nval = value

        def number(trace: Trace, subject: Subject | None) -> bool:
            actual = _number_value(keyword, trace, subject)
            return actual is not None and ncmp(actual, nval)

        return number
    scmp = _STRING_CMP[op]
    sval = value
    negative = op == "!="

    def string(trace: Trace, subject: Subject | None) -> bool:
        values = _string_values(keyword, trace, subject)
        if negative:
            return all(scmp(v, sval) for v in values) if values else True
        return any(scmp(v, sval) for v in values)

    return string


def _keyed(prefix: str, key: str, op: str, value: str | float | bool) -> _Pred:
    def pred(trace: Trace, subject: Subject | None) -> bool:
        values = _keyed_values(prefix, key, trace, subject)
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
