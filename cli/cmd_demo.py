"""`spanscope demo`: run the demo system with injected faults into the store, then report what was found.

Starts an embedded collector on ephemeral loopback ports, runs every workload (CloudFront + Lambda@Edge,
Lambda, SQS, Step Functions, Batch, EMR, a Greengrass device) as its own processes through the real
tracer, stops the collector, prints the post-mortem report and, for each injected fault, whether the
analyzers found it. The injected truth is written to ``<db>.truth.json``.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from typing import Any

from spanscope.cli.common import UsageError, command_parser
from spanscope.cli.options import add_count_argument
from spanscope.render.units import format_duration


def register(sub: Any) -> None:
    parser = command_parser(
        sub,
        "demo",
        help="run the demo workloads with injected faults through the real tracer and collector, then report",
        description=(
            "Runs a simulated AWS system (CloudFront + Lambda@Edge, Lambda, SQS, Step Functions, Batch, EMR, a "
            "Greengrass device) with injected faults, collects its spans into the store, prints the report and "
            "says whether each fault was found. The injected truth is written to <db>.truth.json."
        ),
    )
    parser.add_argument(
        "--faults",
        metavar="LIST",
        default=None,
        help="comma-separated faults, 'all' or 'none' (default: dynamodb-throttle,s3-latency,slow-reducer,"
        "cold-start-storm,edge-offline); see --list-faults",
    )
    add_count_argument(parser, "--seed", 42, "seed of the faults and traffic (default 42)")
    parser.add_argument("--quick", action="store_true", help="a smaller workload (about a third of the default)")
    parser.add_argument("--list-faults", action="store_true", help="list the fault kinds and exit")
    add_count_argument(parser, "--top", 5, "rows per report section (default 5)")
    parser.set_defaults(func=run)


class _Progress:
    """One live status line on a terminal; milestone lines otherwise."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.requests = (0, 0)
        self.readings = (0, 0)
        self.uplink = "up"
        self.pipeline = "waiting"
        self.width = 0

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self.started:5.1f}s]"

    def line(self, text: str) -> None:
        self._clear()
        self.stream.write(f"{self._stamp()} {text}\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.live and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0

    def _status(self) -> None:
        done, total = self.requests
        if not self.live or not total:
            return
        filled = int(12 * done / total)
        bar = "█" * filled + "░" * (12 - filled)
        text = (
            f"{self._stamp()} traffic {bar} {done}/{total} · device {self.readings[0]}/{self.readings[1]}"
            f" (uplink {self.uplink}) · pipeline {self.pipeline}"
        )
        text = text[: max(20, shutil.get_terminal_size().columns - 1)]
        self._clear()
        self.stream.write(text)
        self.width = len(text)
        self.stream.flush()

    def __call__(self, stage: str, info: dict[str, Any]) -> None:
        if stage == "setup":
            self.line(f"starting {info['step']}")
        elif stage == "collector":
            self.line(f"collector listening: otlp-http {info['otlp_http']}, xray-udp {info['xray_udp']}")
        elif stage == "start":
            self.requests = (0, int(info["requests"]))
            self.readings = (0, int(info["readings"]))
            self.line(
                f"running: {info['requests']} viewer requests through CloudFront, a Greengrass device, "
                "then the nightly pipeline"
            )
        elif stage == "requests":
            self.requests = (int(info["done"]), int(info["total"]))
            if not self.live and info["done"] % 25 == 0:
                self.line(f"traffic: {info['done']}/{info['total']} requests")
        elif stage == "readings":
            self.readings = (int(info["done"]), int(info["total"]))
        elif stage == "device":
            self.uplink = "DOWN" if info["state"] == "offline" else "up"
            change = "lost" if info["state"] == "offline" else "restored"
            self.line(f"device uplink {change} (reading {info['reading']})")
        elif stage == "edge_done":
            statuses = ", ".join(f"{n}× {code}" for code, n in sorted(info["statuses"].items()))
            self.line(f"traffic done: {statuses}")
        elif stage == "device_done":
            self.line(
                f"device done: {info['published']} readings published, {info['publish_failures']} failed publishes"
            )
        elif stage == "pipeline":
            self.pipeline = info["state"]
            if info["state"] == "started":
                self.line(f"Step Functions execution {info['execution']} started (Batch array job, then EMR)")
            else:
                batch = info.get("batch") or {}
                self.line(
                    f"pipeline done: Batch {batch.get('succeeded', 0)} children ok after {batch.get('attempts', 0)} "
                    f"attempts ({batch.get('interruptions', 0)} Spot interruption), EMR rollup finished"
                )
        elif stage == "stopping":
            self.line("stopping: collector flush")
        self._status()

    def finish(self) -> None:
        self._clear()
        self.stream.flush()


def _table(rows: list[list[str]], headers: list[str]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = ["  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        out.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return out


def render(report: Any, verdicts: list[Any], *, top: int) -> list[str]:
    """The report and the verdicts as lines of plain text (span-derived text cleaned of control characters)."""
    from spanscope.render.safe_text import clean

    lines: list[str] = []
    smap = report.service_map
    if smap is not None:
        services = sum(1 for n in smap.nodes if n.kind != "client")  # counted as `spanscope map` counts them
        lines.append(f"Service map: {services} nodes, {len(smap.edges)} edges")
        rows = [
            [
                clean(n.name, max_length=28),
                clean(n.type, max_length=36),
                f"{n.requests}",
                f"{n.errors + n.throttles}",
                f"{n.faults}",
            ]
            for n in smap.nodes
            if n.kind != "client"
        ]
        lines += _table(rows, ["node", "type", "requests", "errors", "faults"])
        lines.append("")
    lines.append("Top hotspots (time on the critical path, all traces)")
    rows = [
        [
            f"{i}.",
            clean(h.service, max_length=24),
            clean(h.operation, max_length=36),
            format_duration(h.critical_path_ns),
            f"{h.count}",
            format_duration(h.p95_ns),
        ]
        for i, h in enumerate(report.hotspots[:top], 1)
    ]
    lines += _table(rows, ["#", "service", "operation", "critical path", "calls", "p95"])
    lines.append("")
    lines.append(f"Failure chains ({report.failed_traces} of {report.traces} traces failed)")
    if not report.failure_chains:
        lines.append("  none")
    for i, chain in enumerate(report.failure_chains[:top], 1):
        hops = " → ".join(clean(f"{h.service} {h.operation}", max_length=48) for h in chain.path)
        stopped = f" (stopped by {clean(' '.join(chain.stopped_by), max_length=48)})" if chain.stopped_by else ""
        lines.append(f"  {i}. {chain.count:>3}× {hops}{stopped}")
    lines.append("")
    lines.append("Stragglers")
    if not report.stragglers:
        lines.append("  none")
    for i, s in enumerate(report.stragglers[:top], 1):
        why = {True: "explained by input size", False: "not explained by input size", None: "input size unknown"}
        ratio = s.value_ns / s.median_ns if s.median_ns else 0.0
        lines.append(
            f"  {i}. {clean(s.service)} {clean(s.operation)} {clean(s.label)}: {format_duration(s.value_ns)} = "
            f"{ratio:.1f}x the median of {s.siblings} siblings, {why[s.explained_by_input]}"
        )
    lines.append("")
    lines.append("Cold starts")
    rows = [
        [
            clean(c.function, max_length=28),
            f"{c.cold}/{c.invocations}",
            format_duration(c.init_ns // c.cold) if c.cold else "-",
            format_duration(c.cold_p50_ns) if c.cold else "-",
            format_duration(c.warm_p50_ns) if c.invocations > c.cold else "-",
        ]
        for c in report.cold_starts[:top]
    ]
    lines += _table(rows, ["function", "cold", "init (avg)", "cold p50", "warm p50"])
    lines.append("")
    if verdicts:
        found = sum(1 for v in verdicts if v.found)
        lines.append(f"Injected faults: {found} of {len(verdicts)} found")
        for v in verdicts:
            mark = "FOUND " if v.found else "MISSED"
            lines.append(f"  {mark}  {v.fault:<18} {v.category:<13} {clean(v.detail)}")
    else:
        lines.append("Injected faults: none (a healthy run)")
    return lines


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spanscope.demo_apps.faults import FAULT_KINDS, FaultSpecError, Scale, parse_fault_names

    if args.list_faults:
        for kind in FAULT_KINDS.values():
            print(f"{kind.name:<18} {kind.category:<13} {kind.summary}")
        return 0
    try:
        faults = parse_fault_names(args.faults)
    except FaultSpecError as exc:
        raise UsageError(str(exc)) from None
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    from spanscope.cli.demo.scenario import run_demo
    from spanscope.cli.demo.truth import load_truth
    from spanscope.cli.demo.verdict import analyze_run
    from spanscope.collectors.store import default_store_path

    db_path = Path(args.db).expanduser() if args.db else default_store_path()
    out = sys.stdout
    out.write(f"spanscope demo: seed {args.seed}, faults: {', '.join(faults) or 'none'}\n")
    out.write(f"store: {db_path}\n\n")
    out.flush()
    progress = _Progress(sys.stderr)
    try:
        result = run_demo(db_path, faults, args.seed, scale=Scale.quick() if args.quick else Scale(), progress=progress)
    finally:
        progress.finish()
    truth = load_truth(result.truth_path)
    report, verdicts, _traces = analyze_run(db_path, truth)
    out.write(
        f"\nDone in {result.elapsed_s:.1f}s: {report.spans:,} spans in {report.traces:,} traces from this run "
        f"({result.spans_stored:,} spans in the store).\n"
    )
    if report.traces == 0:
        out.write("warning: no spans from this run reached the store; the tracer could not export (see above)\n")
    if truth["observed"].get("timed_out"):
        out.write("warning: some workloads did not finish in time; the report covers what arrived\n")
    out.write("\n")
    out.write("\n".join(render(report, verdicts, top=args.top)) + "\n\n")
    out.write(f"Injected truth: {result.truth_path}\n")
    try:
        from spanscope.render.html_report import write_html_report

        html_path = write_html_report(Path(f"{db_path}.report.html"), _traces, title="spanscope demo post-mortem")
        out.write(f"HTML report: {html_path}\n")
    except (OSError, ImportError) as exc:
        out.write(f"warning: the HTML report was not written: {exc}\n")
    db_arg = f" --db {shlex.quote(str(db_path))}"
    out.write(f"Next: spanscope tui{db_arg}\n")
    also = f"spanscope analyze{db_arg}, spanscope map{db_arg}, spanscope traces{db_arg} --filter 'fault'"
    out.write(f"      (or {also})\n")
    return 0
