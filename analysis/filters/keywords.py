"""What a filter keyword reads from a trace, one node's span or one root-cause element, and compiled comparisons.

A keyword with no subject describes the trace as a whole (its entry span; ``duration`` the whole trace);
with a subject (inside ``service() { }``, ``edge() { }``, ``rootcause.KIND.LEVEL { }``) it describes that
span or element. ``attribute.KEY`` and ``annotation.KEY`` read keyed values (see ``evaluate``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeAlias

from spanscope.analysis.filters.grammar import KEYED_PREFIXES, Compare
from spanscope.analysis.filters.rootcause import Entity, is_inferred_call, node_name, node_type
from spanscope.collectors import conventions as cv
from spanscope.collectors.model import AttrValue, Span, Status, Trace

__all__ = ["Pred", "Subject", "compile_compare"]

# What keywords describe: one span (inside service()/edge()), one root-cause element, or None (the trace)
Subject: TypeAlias = Span | Entity
# (trace, subject or None for the whole trace) -> bool
Pred = Callable[[Trace, Subject | None], bool]

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


def compile_compare(node: Compare) -> Pred:
    """The predicate of one comparison (or bare keyword): ``responsetime > 2``, ``fault``, ``annotation.K = V``."""
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


def _keyed(prefix: str, key: str, op: str, value: str | float | bool) -> Pred:
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
