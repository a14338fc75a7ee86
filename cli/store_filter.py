"""A filter expression bound to one store: its saved groups expanded, candidates found by the store's text search."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from spanscope.analysis.filters import TracePredicate
from spanscope.collectors.model import Trace
from spanscope.collectors.store import Store


@dataclass(frozen=True, slots=True)
class StoreFilter:
    """The predicate of an expression and the text every matching trace contains (for the store)."""

    predicate: TracePredicate
    needles: tuple[str, ...]

    def candidate_ids(
        self, store: Store, *, since_ns: int | None = None, until_ns: int | None = None, service: str | None = None
    ) -> set[str] | None:
        """Trace ids worth evaluating, or None when the store cannot narrow them (no needles)."""
        if not self.needles:
            return None
        return store.trace_ids_containing(self.needles, since_ns=since_ns, until_ns=until_ns, service=service)

    def traces(
        self, store: Store, *, since_ns: int | None = None, until_ns: int | None = None, service: str | None = None
    ) -> Iterator[Trace]:
        """The matching traces of the window, by trace id."""
        ids = self.candidate_ids(store, since_ns=since_ns, until_ns=until_ns, service=service)
        source = (
            store.iter_traces(since_ns=since_ns, until_ns=until_ns, service=service)
            if ids is None
            else store.iter_traces(trace_ids=ids)
        )
        for trace in source:
            if self.predicate(trace):
                yield trace


def store_filter(store: Store, expression: str) -> StoreFilter:
    """Compile ``expression`` with the store's saved groups (raises FilterSyntaxError)."""
    from spanscope.analysis.filters.evaluate import compile_node, expand_groups
    from spanscope.analysis.filters.grammar import parse_filter
    from spanscope.analysis.filters.pushdown import required_text
    from spanscope.collectors.groups import load_groups

    node = expand_groups(parse_filter(expression), load_groups(store), expression=expression)
    pred = compile_node(node)

    def matches(trace: Trace) -> bool:
        return pred(trace, None)

    return StoreFilter(matches, required_text(node))
