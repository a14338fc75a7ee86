"""Clock-skew adjustment at read time: shifted copies of spans whose host clock disagrees with their caller's.

In the spirit of Jaeger's adjuster and Zipkin's ``ClockSkew``: a server span on another host than its
client parent that lies outside the client's interval is moved, with its whole subtree, so that it sits
in the middle of the client span (half the slack on each side: the network latency is taken to be the
same both ways). Only a server child of a client parent that is not longer than it is moved: a longer
child (Step Functions after ``StartExecution``, a Batch job after ``SubmitJob``) is asynchronous work,
not skew. Spans that carry the Greengrass spool's ``spanscope.device.clock_offset_ns`` (device clock minus
collector clock) are moved back by that offset first. Stored spans are never changed: the adjusted trace
holds new Span objects for the moved spans and the same objects for the others.

>>> from spanscope.collectors.model import Kind, Span, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "web", "call", Kind.CLIENT, 1000, 1100),
...     Span(tid, "b" * 16, "a" * 16, "db", "serve", Kind.SERVER, 900, 980),
... ])
>>> adjusted, skew = adjust_clock_skew(t)
>>> adjusted.get("b" * 16).start_ns, adjusted.get("b" * 16).end_ns, skew["b" * 16]
(1010, 1090, 110)
"""

from __future__ import annotations

from dataclasses import replace

from spanscope.collectors import conventions as cv
from spanscope.collectors.model import Kind, Span, Trace

__all__ = ["HOST_KEYS", "adjust_clock_skew", "host_of"]

HOST_KEYS = ("host.id", "host.name", "host.ip", "zipkin.local_endpoint.ipv4", "zipkin.local_endpoint.ipv6")


def host_of(span: Span) -> str:
    """The host a span's clock belongs to: the resource's host identity, else its service."""
    for source in (span.resource, span.attributes):
        for key in HOST_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value:
                return value
    return "service:" + span.service


def _device_offset(span: Span) -> int:
    value = span.attributes.get(cv.DEVICE_CLOCK_OFFSET_NS)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 0


def adjust_clock_skew(trace: Trace) -> tuple[Trace, dict[str, int]]:
    """The trace with skewed spans moved, and the shift applied to each moved span id (ns, + is later).

    A trace that needs nothing is returned as it is (the same object) with an empty mapping. Iterative
    (pre-order with an explicit stack), so arbitrarily deep traces are fine.
    """
    spans = trace.spans
    parent_of = trace.parent
    needed = False
    device_key, server, client = cv.DEVICE_CLOCK_OFFSET_NS, Kind.SERVER, Kind.CLIENT  # locals: a tight pre-check
    for i, span in enumerate(spans):
        if device_key in span.attributes:
            needed = True
            break
        if span.kind is server:
            p = parent_of(i)
            if p is not None:
                ps = spans[p]
                if ps.kind is client and (span.start_ns < ps.start_ns or span.end_ns > ps.end_ns):
                    needed = True
                    break
    if not needed:
        return trace, {}
    shift = [0] * len(spans)
    for node, _depth in trace.preorder():
        span = spans[node]
        p = parent_of(node)
        offset = _device_offset(span)
        own = -offset if offset else (shift[p] if p is not None else 0)
        if p is not None and span.kind is Kind.SERVER and not span.in_progress:
            ps = spans[p]
            if ps.kind is Kind.CLIENT and not ps.in_progress:
                p_lo, p_hi = ps.start_ns + shift[p], ps.end_ns + shift[p]
                c_lo, c_hi = span.start_ns + own, span.end_ns + own
                slack = (p_hi - p_lo) - (c_hi - c_lo)
                if (c_lo < p_lo or c_hi > p_hi) and slack >= 0 and host_of(span) != host_of(ps):
                    own += p_lo + slack // 2 - c_lo
        shift[node] = own
    moved: dict[str, int] = {}
    out: list[Span] = []
    for i, span in enumerate(spans):
        delta = shift[i]
        if delta:
            out.append(replace(span, start_ns=span.start_ns + delta, end_ns=span.end_ns + delta))
            moved[span.span_id] = delta
        else:
            out.append(span)
    if not moved:
        return trace, {}
    return Trace(trace.trace_id, out), moved
