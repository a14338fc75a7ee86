"""Root causes of a trace as X-Ray's filter language sees them: the service, the entity path and the message.

A fault, error or throttle root cause is a span that failed with that status while no synchronous
child failed (failure role ``origin``); as for the ``error`` keyword, throttles are errors too. The
response-time root cause is the span with the most critical-path time; its ``coverage`` is that
time over the trace's end-to-end response time.
Each root cause is described, as in X-Ray's ``TraceSummary.FaultRootCauses``, by its service node
(name, type, inferred, root) and by the entity path inside that service: the spans from the
service's entry span down to the root-cause span (``index`` 0 is the entry, ``first``/``last`` its ends).

>>> from spanscope.collectors.model import Span, Status, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=10, status=Status.FAULT),
...     Span(tid, "b" * 16, "a" * 16, "api", "load", start_ns=1, end_ns=5, status=Status.FAULT),
... ])
>>> [(e.name, e.index, e.last) for e in root_causes(t, "fault")[0].path]
[('GET /', 0, False), ('load', 1, True)]
"""

from __future__ import annotations

from dataclasses import dataclass

from spanscope.analysis.critical_path import critical_path_nodes
from spanscope.analysis.failures import FailureRole, failure_roles_by_node
from spanscope.collectors.model import Span, Status, Trace

__all__ = ["Entity", "RootCauseInfo", "entry_index", "is_inferred_call", "node_name", "node_type", "root_causes"]

# as for the keywords: a throttle (429) is also an error (4xx)
_STATUS_OF_KIND = {
    "fault": frozenset({Status.FAULT}),
    "error": frozenset({Status.ERROR, Status.THROTTLE}),
    "throttle": frozenset({Status.THROTTLE}),
}


@dataclass(frozen=True, slots=True)
class Entity:
    """One element a root-cause block's keywords describe: a service node or an entity of its path."""

    span: Span
    name: str
    type: str
    inferred: bool = False
    root: bool = False
    remote: bool = False
    index: int = 0
    first: bool = True
    last: bool = True
    coverage: float | None = None


@dataclass(frozen=True, slots=True)
class RootCauseInfo:
    """A root cause: its service node, the entity path inside it (entry first) and the cause itself."""

    service: Entity
    path: tuple[Entity, ...]

    @property
    def cause(self) -> Entity:
        return self.path[-1]


def is_inferred_call(span: Span) -> bool:
    """A client call whose target is an inferred node (an AWS service or a remote endpoint)."""
    return bool(span.remote_service) and span.namespace in ("aws", "remote")


def node_type(span: Span) -> str:
    """The X-Ray node type a span stands for: AWS::<service> for inferred AWS calls, else its origin."""
    if span.namespace == "aws" and span.remote_service:
        return f"AWS::{span.remote_service}"
    if span.namespace == "remote" and span.remote_service:
        return "remote"
    return span.origin


def node_name(span: Span) -> str:
    """The service-map node a span stands for: the inferred target of a call, else its service."""
    return span.remote_service if is_inferred_call(span) else span.service


def entry_index(trace: Trace, i: int) -> int:
    """The position of the span through which the request entered the service of span ``i``."""
    spans = trace.spans
    service = spans[i].service
    node = i
    for _ in range(len(spans)):
        p = trace.parent(node)
        if p is None or spans[p].service != service:
            break
        node = p
    return node


def _causes(trace: Trace, kind: str) -> list[tuple[int, float | None]]:
    spans = trace.spans
    if kind == "responsetime":
        credit: dict[int, int] = {}
        for node, start, end in critical_path_nodes(trace):
            credit[node] = credit.get(node, 0) + end - start
        if not credit:
            return []
        best = min(credit, key=lambda n: (-credit[n], n))
        total = trace.root.duration_ns if trace.root is not None else 0
        return [(best, credit[best] / total if total > 0 else None)]
    wanted = _STATUS_OF_KIND[kind]
    roles = failure_roles_by_node(trace)
    return [(i, None) for i, _d in trace.preorder() if roles[i] is FailureRole.ORIGIN and spans[i].status in wanted]


def _is_remote(span: Span) -> bool:
    return span.namespace == "remote" or any(x.remote for x in span.exceptions)


def root_causes(trace: Trace, kind: str) -> list[RootCauseInfo]:
    """The root causes of ``kind`` (fault, error, throttle or responsetime) of ``trace``, in tree order."""
    spans = trace.spans
    out: list[RootCauseInfo] = []
    for i, coverage in _causes(trace, kind):
        span = spans[i]
        if is_inferred_call(span):
            service = Entity(span, span.remote_service, node_type(span), inferred=True, coverage=coverage)
            path: tuple[Entity, ...] = (Entity(span, span.name, node_type(span), True, remote=_is_remote(span)),)
        else:
            entry = entry_index(trace, i)
            chain = [i]
            node = i
            while node != entry:
                parent = trace.parent(node)
                if parent is None:
                    break
                chain.append(parent)
                node = parent
            chain.reverse()
            head = spans[entry]
            is_root = trace.parent(entry) is None
            service = Entity(head, head.service, head.origin, root=is_root, coverage=coverage)
            last = len(chain) - 1
            path = tuple(
                Entity(
                    spans[j],
                    spans[j].name,
                    head.origin,
                    root=is_root,
                    remote=_is_remote(spans[j]),
                    index=k,
                    first=k == 0,
                    last=k == last,
                    coverage=coverage,
                )
                for k, j in enumerate(chain)
            )
        out.append(RootCauseInfo(service, path))
    return out
