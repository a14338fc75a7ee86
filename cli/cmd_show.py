"""`spanscope show TRACE_ID`: one trace (or, with --follow-links, its whole workflow) as a waterfall with its
critical path and failure roles, or JSON; clock skew is adjusted at read time unless --no-adjust."""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from spanscope.cli.common import command_parser, open_store_for, print_json_chunks, write_text_chunks
from spanscope.cli.options import add_count_argument, add_cp_tolerance_argument, check_counts, check_cp_tolerance

_HEX_DIGITS = frozenset("0123456789abcdef")


def trace_id_argument(text: str) -> str:
    """A trace id as typed: the X-Ray form and 32 hex digits pass as they are; 16 hex digits (a 64-bit
    Zipkin/Jaeger id) or fewer (Jaeger drops leading zeros) are left-padded to 32, as the importers store them.

    >>> trace_id_argument("463AC35C9F6413AD")
    '0000000000000000463ac35c9f6413ad'
    >>> trace_id_argument("1-5759e988-bd862e3fe1be46a994272793")
    '1-5759e988-bd862e3fe1be46a994272793'
    """
    value = text.strip().lower()
    if 0 < len(value) < 32 and _HEX_DIGITS.issuperset(value):
        return value.rjust(32, "0")
    return text


def register(sub: Any) -> None:
    parser = command_parser(sub, "show", help="one trace: waterfall with critical path and failure roles")
    parser.add_argument(
        "trace_id", metavar="TRACE_ID", help="X-Ray (1-xxxxxxxx-...), 32-hex or 16-hex (64-bit Zipkin/Jaeger) trace id"
    )
    add_cp_tolerance_argument(parser)
    parser.add_argument("--width", type=int, default=None, metavar="COLS", help="bar width (default: fit terminal)")
    parser.add_argument("--json", action="store_true", help="JSON with spans, failure roles and critical path")
    parser.add_argument(
        "--follow-links",
        action="store_true",
        help="the trace with every trace linked to or from it on one timeline, end-to-end critical path",
    )
    add_count_argument(
        parser, "--max-traces", 100, "with --follow-links: at most N traces in the workflow (default 100)"
    )
    parser.add_argument("--no-adjust", action="store_true", help="raw span times: no clock-skew adjustment")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spanscope.analysis import critical_path
    from spanscope.analysis.cold_starts import INITIALIZATION, split_initialization
    from spanscope.analysis.critical_path import critical_path_nodes
    from spanscope.analysis.failures import failure_roles_by_node
    from spanscope.analysis.skew import adjust_clock_skew
    from spanscope.analysis.workflows import PathPiece, build_workflow, follow_links, one_timeline
    from spanscope.collectors.model import Trace
    from spanscope.render.trace_json import iter_trace_json
    from spanscope.render.waterfall_text import iter_waterfall

    check_cp_tolerance(args)
    check_counts(args, max_traces=1)
    skew: dict[str, int] = {}

    def adjusted(trace: Trace) -> Trace:
        if args.no_adjust:
            return trace
        out, moved = adjust_clock_skew(trace)
        skew.update(moved)
        return out

    workflow = None
    with open_store_for(args, readonly=True) as store:
        trace = adjusted(store.get_trace(trace_id_argument(args.trace_id)))
        if args.follow_links:
            members, notes = follow_links(
                trace,
                lambda ids: [adjusted(t) for t in store.iter_traces(trace_ids=ids)],
                lambda tid: store.linking_trace_ids(tid, limit=args.max_traces + 1),
                max_traces=args.max_traces,
            )
            workflow = build_workflow(members, notes=notes)
    if workflow is not None:
        shown = one_timeline(workflow)
        path: list[Any] = [p for p in workflow.path if not p.piece or p.piece == INITIALIZATION]
    else:
        shown = trace
        nodes = critical_path_nodes(trace, overlap_tolerance=args.cp_tolerance)
        path = [
            PathPiece(trace.trace_id, trace.spans[n].span_id, "", "", s, e, INITIALIZATION if init else "")
            for n, s, e, init in split_initialization(trace, nodes)
        ]
        if not any(p.piece for p in path):
            path = list(critical_path(trace, overlap_tolerance=args.cp_tolerance))
    # only the spans that have a role: what failure_roles(shown).get(span_id) gives, without a
    # million-entry dict of None (a duplicated id's records share the role of its tree node)
    roles = {shown.spans[i].span_id: r for i, r in enumerate(failure_roles_by_node(shown)) if r is not None}
    if args.json:  # streamed, a span at a time: a million-span trace never exists as one document
        extra: dict[str, Any] = {}
        if any(getattr(p, "piece", "") for p in path):
            extra["critical_path"] = [_piece_json(p) for p in path]
        if workflow is not None:
            extra["critical_path"] = [_piece_json(p, workflow=True) for p in workflow.path]
            extra["workflow"] = _workflow_json(workflow)
        span_extra = {sid: {"clock_skew_s": moved / 1e9} for sid, moved in skew.items()}
        print_json_chunks(iter_trace_json(shown, path, roles, span_extra=span_extra, extra=extra))
        return 0
    lines: list[str] = []
    by_id: dict[str, Any] = {}  # the last record of each span id, built only if a line below names a span

    def span_by_id(span_id: str) -> Any:
        if not by_id:
            by_id.update((s.span_id, s) for s in shown.spans)
        return by_id.get(span_id)

    for p in path:
        if getattr(p, "piece", "") == INITIALIZATION:
            fn = span_by_id(p.span_id)
            took = _ms(p.end_ns - p.start_ns)
            lines.append(f"Initialization: {took} before {_label(fn)} (cold start, counted under the function)")
    if workflow is not None:
        pieces = workflow.time_by_piece()
        total = sum(pieces.values()) or 1
        lines.append(
            f"workflow: {len(workflow.traces)} trace(s), {_ms(workflow.duration_ns)} end to end; critical path covers "
            f"{workflow.coverage:.0%}: "
            + ", ".join(f"{k} {_ms(v)} ({v / total:.0%})" for k, v in sorted(pieces.items(), key=lambda kv: -kv[1]))
        )
        for h in workflow.hops[:50]:
            ends = f"{_label(span_by_id(h.from_span_id))} ~> {_label(span_by_id(h.to_span_id))}"
            lines.append(f"  hop {h.kind}: {_ms(h.gap_ns)}  {ends}")
        if len(workflow.hops) > 50:
            lines.append(f"  ... {len(workflow.hops) - 50} more hops (--json lists them all)")
        lines.extend(f"note: {n}" for n in workflow.notes)
    if skew:
        moved_list = ", ".join(
            f"{_label(span_by_id(sid))} {delta / 1e6:+.1f}ms" for sid, delta in list(skew.items())[:10]
        )
        lines.append(f"~ clock skew adjusted: {moved_list} (--no-adjust shows raw times)")
    from spanscope.render.safe_text import clean

    write_text_chunks(
        itertools.chain(iter_waterfall(shown, path, roles, width=args.width), (clean(x) + "\n" for x in lines))
    )
    return 0


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f}ms" if ns < 10_000_000_000 else f"{ns / 1e9:.2f}s"


def _label(span: Any) -> str:
    return f"{span.service}: {span.name}" if span is not None else "?"


def _piece_json(p: Any, *, workflow: bool = False) -> dict[str, Any]:
    """A critical-path entry; a workflow's carry their trace id and piece (null for a span's own time)."""
    entry: dict[str, Any] = {"span_id": p.span_id, "start": p.start_ns / 1e9, "end": p.end_ns / 1e9}
    if workflow:
        entry["trace_id"] = p.trace_id
        entry["piece"] = p.piece or None
    elif getattr(p, "piece", ""):
        entry["piece"] = p.piece
    return entry


def _workflow_json(workflow: Any) -> dict[str, Any]:
    return {
        "trace_ids": [t.trace_id for t in workflow.traces],
        "start": workflow.start_ns / 1e9,
        "end": workflow.end_ns / 1e9,
        "duration": workflow.duration_ns / 1e9,
        "critical_path_coverage": workflow.coverage,
        "time_by_piece_s": {k: v / 1e9 for k, v in workflow.time_by_piece().items()},
        "hops": [
            {
                "kind": h.kind,
                "from": {"trace_id": h.from_trace_id, "span_id": h.from_span_id},
                "to": {"trace_id": h.to_trace_id, "span_id": h.to_span_id},
                "gap_s": h.gap_ns / 1e9,
            }
            for h in workflow.hops
        ],
        "notes": list(workflow.notes),
    }
