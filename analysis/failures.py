"""Failure roles of spans in one trace, and failure chains grouped across traces.

A span is the ``origin`` of a failure (it failed and none of its children did), ``propagated`` (it
failed and a child failed) or ``stopped`` (a child failed, it did not). Asynchronous children (a
consumer under a producer, or a child linked to its parent) do not count for their parent: the
parent did not wait for them. A failure chain is the path from an origin up through propagated
ancestors; where the top of that path is asynchronous work (a consumer under a producer, or a span
linked to a producer, possibly in another trace, as SQS does), the chain hops to the producer.

>>> from spanscope.collectors.model import Span, Status, Trace
>>> tid = "5759e988bd862e3fe1be46a994272793"
>>> t = Trace(tid, [
...     Span(tid, "a" * 16, None, "api", "GET /", start_ns=0, end_ns=10, status=Status.FAULT),
...     Span(tid, "b" * 16, "a" * 16, "api", "query", start_ns=1, end_ns=5, status=Status.FAULT),
... ])
>>> {k[0]: (v.value if v else None) for k, v in failure_roles(t).items()}
{'a': 'propagated', 'b': 'origin'}
>>> [(c.origin, [h.operation for h in c.path], c.count) for c in failure_chains([t])]
[(('api', 'query'), ['query', 'GET /'], 1)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from spanscope.analysis.critical_path import is_async_child
from spanscope.collectors.model import Kind, Status, Trace

__all__ = [
    "ChainHop",
    "FailureChain",
    "FailureChainsPartial",
    "FailureRole",
    "failure_chains",
    "failure_chains_partial",
    "failure_roles",
    "failure_roles_by_node",
    "merge_failure_chains",
]

EXAMPLE_TRACE_IDS = 5


class FailureRole(StrEnum):
    ORIGIN = "origin"
    PROPAGATED = "propagated"
    STOPPED = "stopped"


def failure_roles_by_node(trace: Trace) -> list[FailureRole | None]:
    """The role of every node of ``trace`` (by position in ``trace.spans``; duplicates get None).

    One pass over the failed spans, each marking its parent unless it is asynchronous work: no tree
    walk, as only failures and their parents can have a role.
    """
    spans = trace.spans
    roles: list[FailureRole | None] = [None] * len(spans)
    failed = [i for i, span in enumerate(spans) if span.status is not Status.OK]
    if not failed:
        return roles
    duplicates = set(trace.duplicates)
    child_failed: set[int] = set()
    for c in failed:
        p = trace.parent(c)  # None for roots and for duplicated records, which are not tree nodes
        if p is not None and not is_async_child(spans[p], spans[c]):
            child_failed.add(p)
    for i in failed:
        if i not in duplicates:
            roles[i] = FailureRole.PROPAGATED if i in child_failed else FailureRole.ORIGIN
    for i in child_failed:
        if roles[i] is None:
            roles[i] = FailureRole.STOPPED
    return roles


def failure_roles(trace: Trace) -> dict[str, FailureRole | None]:
    """``{span_id: role}`` for every span of the trace (None: not involved in a failure)."""
    spans = trace.spans
    roles = failure_roles_by_node(trace)
    out: dict[str, FailureRole | None] = {}
    for i, _depth in trace.preorder():
        out[spans[i].span_id] = roles[i]
    for i in trace.duplicates:
        out.setdefault(spans[i].span_id, None)
    return out


@dataclass(frozen=True, slots=True)
class ChainHop:
    """One span of a failure chain, by its (service, operation) signature.

    ``via`` says how the chain reached it from the previous hop: "" (synchronous parent),
    "async" (a producer whose consumer failed) or "link" (a producer reached through a span link).
    """

    service: str
    operation: str
    via: str = ""


Signature = tuple[tuple[ChainHop, ...], tuple[str, str] | None]


@dataclass(slots=True)
class FailureChain:
    """Failures with the same path, across traces. ``path`` starts at the origin."""

    path: tuple[ChainHop, ...]
    stopped_by: tuple[str, str] | None
    count: int
    trace_ids: list[str]

    @property
    def origin(self) -> tuple[str, str]:
        return (self.path[0].service, self.path[0].operation)


@dataclass(slots=True)
class FailureChainsPartial:
    """Per-trace (or merged) state of :func:`failure_chains`; ``merge`` is associative."""

    chains: dict[Signature, list[object]] = field(default_factory=dict)  # sig -> [count, trace ids]
    # chains whose top is linked to a span that may be in another trace: signature -> [(producer_key of the
    # link, trace)]. Grouped by signature, so a run holds one copy of each chain's hops, not one a trace
    pending: dict[Signature, list[tuple[str, str]]] = field(default_factory=dict)
    # producer spans that links may point at: producer_key(trace id, span id) -> (service, operation). Held to the
    # end of a run: one key string a producer and one (service, operation) pair shared by all of its producers,
    # not six objects (the span's own strings and two tuples)
    producers: dict[str, tuple[str, str]] = field(default_factory=dict)
    operations: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def add(self, sig: Signature, trace_id: str) -> None:
        entry = self.chains.get(sig)
        if entry is None:
            self.chains[sig] = [1, [trace_id]]
            return
        ids = entry[1]
        assert isinstance(ids, list)
        count = entry[0]
        assert isinstance(count, int)
        entry[0] = count + 1
        # Keep the smallest ids: the examples do not depend on the order traces arrive in (engines agree).
        if trace_id not in ids:
            ids.append(trace_id)
            ids.sort()
            del ids[EXAMPLE_TRACE_IDS:]

    def merge(self, other: FailureChainsPartial) -> FailureChainsPartial:
        for sig, (count, ids) in other.chains.items():
            assert isinstance(count, int) and isinstance(ids, list)
            entry = self.chains.get(sig)
            if entry is None:
                self.chains[sig] = [count, list(ids)]
            else:
                mine = entry[1]
                assert isinstance(mine, list) and isinstance(entry[0], int)
                entry[0] = entry[0] + count
                mine.extend(x for x in ids if x not in mine)
                mine.sort()
                del mine[EXAMPLE_TRACE_IDS:]
        for sig, links in other.pending.items():
            self.pending.setdefault(sig, []).extend(links)
        mine, shared = self.producers, self.operations
        for key, operation in other.producers.items():
            mine[key] = shared.setdefault(operation, operation)
        return self


# AWS calls that hand work to something else (as X-Ray records an SQS send: a client subsegment)
_ASYNC_AWS = frozenset({"SQS", "SNS", "Batch", "StepFunctions", "SFN", "Lambda", "Kinesis", "EventBridge"})


def producer_key(trace_id: str, span_id: str) -> str:
    """The key of a producer span in ``FailureChainsPartial.producers`` (ids are hex, or X-Ray's dashed form)."""
    return f"{trace_id} {span_id}"


def failure_chains_partial(trace: Trace) -> FailureChainsPartial:
    """The per-trace step of :func:`failure_chains`."""
    part = FailureChainsPartial()
    spans = trace.spans
    tid = trace.trace_id
    producer = Kind.PRODUCER
    any_failed = False
    for span in spans:
        if span.kind is producer or (span.namespace == "aws" and span.remote_service in _ASYNC_AWS):
            part.producers[producer_key(tid, span.span_id)] = (span.service, span.name)
        if span.status is not Status.OK:
            any_failed = True
    if not any_failed:
        return part
    roles = failure_roles_by_node(trace)
    seen: set[Signature] = set()
    seen_links: set[tuple[Signature, tuple[str, str]]] = set()
    for i, role in enumerate(roles):
        if role is not FailureRole.ORIGIN:
            continue
        hops = [ChainHop(spans[i].service, spans[i].name)]
        node = i
        stopped_by: tuple[str, str] | None = None
        pending_link: tuple[str, str] | None = None
        steps = 0
        while steps <= len(spans):  # a tree, but never trust real data to be one
            steps += 1
            span = spans[node]
            p = trace.parent(node)
            if p is not None:
                ps = spans[p]
                if is_async_child(ps, span):
                    hops.append(ChainHop(ps.service, ps.name, "async"))
                    break
                if roles[p] is FailureRole.PROPAGATED:
                    hops.append(ChainHop(ps.service, ps.name))
                    node = p
                    continue
                if roles[p] is FailureRole.STOPPED:
                    stopped_by = (ps.service, ps.name)
                break
            if span.links:
                link = span.links[0]
                pending_link = (link.trace_id, link.span_id)
            break
        sig: Signature = (tuple(hops), stopped_by)
        if pending_link is not None:
            if (sig, pending_link) not in seen_links:
                seen_links.add((sig, pending_link))
                part.pending.setdefault(sig, []).append((producer_key(*pending_link), tid))
        elif sig not in seen:
            seen.add(sig)
            part.add(sig, tid)
    return part


def merge_failure_chains(partials: Iterable[FailureChainsPartial]) -> list[FailureChain]:
    """The merge step: combine partials, resolve links across traces, rank by traces affected."""
    total = FailureChainsPartial()
    for part in partials:
        total.merge(part)
    resolved: set[tuple[Signature, str]] = set()
    for (hops, stopped_by), links in total.pending.items():
        for key, tid in links:
            target = total.producers.get(key)
            hop = ChainHop("", "", "link") if target is None else ChainHop(target[0], target[1], "link")
            sig: Signature = ((*hops, hop), stopped_by)
            if (sig, tid) not in resolved:
                resolved.add((sig, tid))
                total.add(sig, tid)
    total.pending = {}
    out: list[FailureChain] = []
    for (hops, stopped_by), (count, ids) in total.chains.items():
        assert isinstance(count, int) and isinstance(ids, list)
        out.append(FailureChain(hops, stopped_by, count, [str(x) for x in ids]))
    out.sort(key=lambda c: (-c.count, [(h.service, h.operation, h.via) for h in c.path]))
    return out


def failure_chains(traces: Iterable[Trace]) -> list[FailureChain]:
    """Failure chains across ``traces``, most traces affected first."""
    return merge_failure_chains(failure_chains_partial(t) for t in traces)
