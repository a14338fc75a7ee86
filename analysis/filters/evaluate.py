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
from typing import Final

from spanscope.analysis.filters.grammar import (
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
from spanscope.analysis.filters.keywords import Pred, Subject, compile_compare
from spanscope.analysis.filters.rootcause import (
    Entity,
    entry_index,
    node_type,
    root_causes,
)
from spanscope.collectors.errors import FilterSyntaxError
from spanscope.collectors.model import Span, Trace

__all__ = ["GROUP_ARN_PREFIX", "TracePredicate", "compile_filter", "compile_node", "expand_groups", "group_arn"]

TracePredicate = Callable[[Trace], bool]
GROUP_ARN_PREFIX: Final = "arn:spanscope:xray:local:group/"


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


def compile_node(node: Node) -> Pred:
    """The predicate of one syntax tree node (groups already expanded)."""
    if isinstance(node, Compare):
        return compile_compare(node)
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


def _rootcause(node: RootCause) -> Pred:
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


def _service(node: Service) -> Pred:
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


def _edge(node: Edge) -> Pred:
    body = compile_node(node.body) if node.body is not None else None
    source, target = node.source, node.target

    def pred(trace: Trace, _subject: Subject | None) -> bool:
        calls = _edge_spans(trace, source, target)
        if body is None:
            return bool(calls)
        return any(body(trace, s) for s in calls)

    return pred
