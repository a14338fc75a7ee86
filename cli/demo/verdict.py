"""Did the analyzers find what was injected? Each expected finding of the truth file checked against a report.

- errors (``failing_operation``): the rank of the first failure chain whose origin is that operation
  (rank 1 is what the evaluation calls AC@1; the demo calls a fault found within the top 3);
- latency (``slow_operation``): its rank among the hotspots (found within the top 3);
- stragglers: a straggler of that task (by its task id) among the stragglers found, and whether input
  size explained it as expected;
- cold starts: the function ranks first among cold-start offenders;
- connectivity: the device's failing uplink call is a failure chain, and every reading made while the
  device was offline reached the store later (the store-and-forward exporter delivered them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spanscope.analysis.report import Report
from spanscope.collectors.model import Trace

TOP_N = 3


@dataclass(slots=True)
class Verdict:
    fault: str
    category: str
    found: bool
    detail: str
    rank: int | None = None  # 1-based rank of the matching finding, when the finding is ranked
    extra: dict[str, Any] = field(default_factory=dict)


def _chain_rank(report: Report, op: Mapping[str, str]) -> int | None:
    for i, chain in enumerate(report.failure_chains, 1):
        if chain.origin == (op["service"], op["operation"]):
            return i
    return None


def _hotspot_rank(report: Report, op: Mapping[str, str]) -> int | None:
    for i, hot in enumerate(report.hotspots, 1):
        if (hot.service, hot.operation) == (op["service"], op["operation"]):
            return i
    return None


def _ranked(fault: str, category: str, rank: int | None, found: str, missing: str) -> Verdict:
    """Found when the operation ranks in the top TOP_N; the detail says where it ranks, or that it does not."""
    return Verdict(fault, category, rank is not None and rank <= TOP_N, found if rank else missing, rank)


def _device_seqs(traces: Iterable[Trace], device: str) -> set[int]:
    seqs: set[int] = set()
    for trace in traces:
        for span in trace.spans:
            if span.service == device and span.name == "sensor-cycle":
                value = span.annotations.get("seq", span.attributes.get("seq"))
                if isinstance(value, int | float) and not isinstance(value, bool):
                    seqs.add(int(value))
    return seqs


def judge(report: Report, truth: Mapping[str, Any], traces: Iterable[Trace] = ()) -> list[Verdict]:
    """One verdict per injected fault of ``truth`` (the parsed ``<db>.truth.json``)."""
    observed = truth.get("observed") or {}
    trace_list = list(traces)
    out: list[Verdict] = []
    for item in truth.get("expected") or []:
        fault, category = str(item["fault"]), str(item["category"])
        if fault == "edge-offline":
            rank = _chain_rank(report, item["failing_operation"])
            expected = set(observed.get("offline_readings") or [])
            delivered = expected & _device_seqs(trace_list, str(item["device"]))
            ok = rank is not None and bool(expected) and delivered == expected
            detail = (
                f"uplink failures are failure chain #{rank}" if rank else "no failure chain for the uplink"
            ) + f"; {len(delivered)}/{len(expected)} readings made offline were delivered later"
            spool = (observed.get("device") or {}).get("spool") or {}
            if spool.get("spooled_spans"):
                detail += f" ({spool['spooled_spans']} spans spooled on the device, forwarded on reconnect)"
            counts = {"delivered": len(delivered), "offline": len(expected)}
            out.append(Verdict(fault, category, ok, detail, rank, counts))
        elif "failing_operation" in item:
            op = item["failing_operation"]
            rank, where = _chain_rank(report, op), f"{op['service']} {op['operation']}"
            found, missing = f"{where} is the origin of failure chain #{rank}", f"no failure chain starts at {where}"
            out.append(_ranked(fault, category, rank, found, missing))
        elif "slow_operation" in item:
            op = item["slow_operation"]
            rank, where = _hotspot_rank(report, op), f"{op['service']} {op['operation']}"
            out.append(_ranked(fault, category, rank, f"{where} is hotspot #{rank}", f"{where} is not a hotspot"))
        elif "straggler" in item:
            want = item["straggler"]
            match = None
            rank = None
            for i, s in enumerate(report.stragglers, 1):
                if (s.service, s.operation, s.label) == (want["service"], want["operation"], want["task_id"]):
                    match, rank = s, i
                    break
            if match is None:
                out.append(Verdict(fault, category, False, f"{want['task_id']} was not flagged as a straggler"))
                continue
            slower = match.value_ns / match.median_ns if match.median_ns else 0.0
            explained = match.explained_by_input
            why = "explained by its input size" if explained else "not explained by its input size"
            ok = explained is None or bool(explained) == bool(want["explained_by_input"])
            detail = f"{want['operation']} {want['task_id']} took {slower:.1f}x the median ({why})"
            out.append(Verdict(fault, category, ok, detail, rank))
        elif "cold_start_function" in item:
            fn = str(item["cold_start_function"])
            rank = next((i for i, c in enumerate(report.cold_starts, 1) if c.function == fn), None)
            stats = report.cold_starts[rank - 1] if rank else None
            detail = (
                f"{fn} ranks #{rank} for cold starts ({stats.cold} of {stats.invocations} invocations cold)"
                if stats
                else f"no cold starts recorded for {fn}"
            )
            out.append(Verdict(fault, category, rank == 1, detail, rank))
        else:  # pragma: no cover - every fault kind has an expectation above
            out.append(Verdict(fault, category, False, "no expectation defined"))
    return out


def analyze_run(db_path: Any, truth: Mapping[str, Any]) -> tuple[Report, list[Verdict], list[Trace]]:
    """The report over one run's traces in the store (those that started during the run) and its verdicts."""
    from spanscope.analysis.report import build_report
    from spanscope.collectors.store import open_store

    observed = truth.get("observed") or {}
    since = observed.get("run_started_ns")
    with open_store(db_path, readonly=True) as store:
        traces = list(store.iter_traces(since_ns=int(since) if since else None))
    report = build_report(traces)
    return report, judge(report, truth, traces), traces
