"""Clock-skew adjustment at read time, on the public zipkin-lens sample `skew.json` and on built traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.analysis.report import build_report
from spanscope.analysis.skew import adjust_clock_skew
from spanscope.cli.main import main
from spanscope.collectors.formats.zipkin import parse_spans
from spanscope.collectors.model import Kind, Trace, group_traces

from tests.builders import build_trace

SKEW = Path(__file__).parent.parent / "fixtures" / "zipkin" / "skew.json"
US = 1_000


def skew_trace() -> Trace:
    (trace,) = group_traces(parse_spans(json.loads(SKEW.read_bytes())).spans)
    return trace


def find(trace: Trace, service: str, name: str, kind: Kind | None = None):
    return next(s for s in trace.spans if s.service == service and s.name == name and (kind is None or s.kind is kind))


def test_server_half_65ms_before_its_client_moves_with_its_subtree_half_the_slack_each_side() -> None:
    raw = skew_trace()
    client = find(raw, "servicea", "post", Kind.CLIENT)
    server = find(raw, "serviceb", "post", Kind.SERVER)
    child = find(raw, "serviceb", "async")
    assert client.start_ns - server.start_ns > 65_000 * US  # the skew in the file
    adjusted, moved = adjust_clock_skew(raw)
    a_server = adjusted.get(server.span_id)
    a_child = adjusted.get(child.span_id)
    assert a_server is not None and a_child is not None
    slack = client.duration_ns - server.duration_ns  # 94,539 - 93,577 µs
    assert a_server.start_ns - client.start_ns == slack // 2
    assert client.end_ns - a_server.end_ns == slack - slack // 2
    assert a_server.duration_ns == server.duration_ns
    delta = a_server.start_ns - server.start_ns
    assert moved[server.span_id] == delta == moved[child.span_id]
    assert a_child.start_ns - child.start_ns == delta  # the subtree moves with it
    assert client.span_id not in moved
    # stored spans are never changed
    assert server.start_ns == find(raw, "serviceb", "post", Kind.SERVER).start_ns
    assert build_report([raw], service_map=False).skew_adjusted_traces == 1


def test_cli_show_marks_adjusted_spans_and_no_adjust_shows_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.db")
    assert main(["import", "--db", db, str(SKEW)]) == 0
    tid = skew_trace().trace_id
    capsys.readouterr()
    assert main(["show", "--db", db, tid, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    skewed = {(s["service"], s["name"]): s.get("clock_skew_s") for s in doc["spans"]}
    assert skewed[("serviceb", "post")] == pytest.approx(0.065922, abs=2e-6)
    assert skewed[("serviceb", "async")] == skewed[("serviceb", "post")]
    assert skewed[("servicea", "post")] is None and skewed[("servicea", "get")] is None
    assert main(["show", "--db", db, tid]) == 0
    assert "clock skew adjusted" in capsys.readouterr().out
    assert main(["show", "--db", db, tid, "--json", "--no-adjust"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert all("clock_skew_s" not in s for s in raw["spans"])


def test_async_children_and_same_host_are_not_skew_and_device_offset_is_applied() -> None:
    t = build_trace(
        [
            ("call", None, 0, 50, {"service": "a", "kind": Kind.CLIENT}),
            # longer than its caller and after it: Step Functions after StartExecution, not skew
            ("exec", "call", 100, 900, {"service": "b", "kind": Kind.SERVER}),
        ]
    )
    assert adjust_clock_skew(t) == (t, {})
    same_host = build_trace(
        [
            ("call", None, 100, 200, {"service": "a", "kind": Kind.CLIENT, "resource": {"host.name": "h1"}}),
            ("serve", "call", 50, 120, {"service": "b", "kind": Kind.SERVER, "resource": {"host.name": "h1"}}),
        ]
    )
    assert adjust_clock_skew(same_host)[1] == {}
    device = build_trace(
        [
            ("cycle", None, 0, 10, {"service": "dev", "attributes": {"spanscope.device.clock_offset_ns": 5_000_000}}),
        ]
    )
    adjusted, moved = adjust_clock_skew(device)
    assert moved == {device.spans[0].span_id: -5_000_000}
    assert adjusted.spans[0].start_ns == device.spans[0].start_ns - 5_000_000
