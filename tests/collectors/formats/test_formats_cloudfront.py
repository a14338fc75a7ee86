"""CloudFront access logs as edge spans: AWS's public example standard log field by field, real-time logs,
and the join to origin traces that the real tracer recorded (X-Amz-Cf-Id on a Lambda function URL)."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.collectors.edge_logs import looks_like_cloudfront
from spanscope.collectors.formats import otlp_proto
from spanscope.collectors.formats.cloudfront import REALTIME_FIELDS
from spanscope.collectors.importers import import_files
from spanscope.collectors.model import Kind, Span, Status
from spanscope.collectors.store import Store, open_store
from spanscope.tracer import configure
from spanscope.tracer.integrations import lambda_handler

from tests.tracer.lambda_fakes import FACADE_PARENT, FACADE_ROOT, LambdaContext, lambda_env

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "cloudfront" / "standard-example.log"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "spans.db")


def all_spans(store: Store) -> list[Span]:
    return [s for t in store.iter_traces() for s in t.spans]


def test_the_public_example_log_imports_field_by_field(store: Store) -> None:
    report = import_files([FIXTURE], store)
    assert report.problems == [] and report.spans == 6 and report.files[0].format == "cloudfront"
    spans = {s.attributes["aws.cloudfront.request_id"]: s for s in all_spans(store)}
    assert len(spans) == 6
    hit = spans["SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ=="]
    assert (hit.service, hit.name, hit.kind, hit.status) == ("cloudfront", "GET /index.html", Kind.SERVER, Status.OK)
    end = 1575493351_000_000_000  # 2019-12-04T21:02:31Z, when CloudFront finished the response
    assert (hit.start_ns, hit.end_ns) == (end - 1_000_000, end)
    assert hit.origin == "AWS::CloudFront::Distribution"
    assert hit.resource["spanscope.location"] == "edge:LAX1"
    assert hit.trace_id.startswith(f"{(end - 1_000_000) // 1_000_000_000:08x}")  # X-Ray accepts it
    a = hit.attributes
    assert a["aws.cloudfront.result_type"] == "Hit" and a["aws.cloudfront.response_result_type"] == "Hit"
    assert a["aws.cloudfront.edge_location"] == "LAX1"
    assert a["aws.cloudfront.time_to_first_byte_s"] == pytest.approx(0.001)
    assert a["http.response.status_code"] == 200 and a["http.request.method"] == "GET"
    assert a["http.response.size"] == 392 and a["http.request.size"] == 23 and a["client.port"] == 11040
    assert a["client.address"] == "192.0.2.100" and a["tls.protocol.version"] == "TLSv1.2"
    assert str(a["user_agent.original"]).startswith("Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
    assert "http.request.header.referer" not in a and "url.query" not in a  # "-" is no value
    zero = spans["k6WGMNkEzR5BEM_SaF47gjtX9zBDO2m349OY2an0QPEaUum1ZOLrow=="]
    assert zero.duration_ns == 0
    failed = spans["1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ=="]
    assert failed.status is Status.FAULT and failed.status_message == "OriginDnsError"
    assert failed.name == "GET /favicon.ico" and failed.duration_ns == 102_000_000
    assert failed.resource["spanscope.location"] == "edge:SEA19-C1"


def test_importing_the_same_log_twice_stores_each_request_once(store: Store, tmp_path: Path) -> None:
    import_files([FIXTURE], store)
    packed = tmp_path / "log.gz"
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))  # delivered to S3 gzipped
    again = import_files([packed], store)
    assert again.spans == 6 and again.unchanged == 6 and again.inserted == 0
    assert store.span_count() == 6


def realtime_line(**values: str) -> str:
    row = dict.fromkeys(REALTIME_FIELDS, "-")
    row.update(values)
    return "\t".join(row[f] for f in REALTIME_FIELDS)


def test_a_realtime_log_with_every_field_and_a_trace_header(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "rt.log"
    header = "X-Amzn-Trace-Id:Root=1-5f3458a3-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
    first_line = {
        "timestamp": "1597271427.812", "sc-status": "503", "cs-method": "POST", "cs-uri-stem": "/orders",
        "x-edge-location": "IAD89-C1", "x-edge-request-id": "rt-1==", "time-taken": "0.250",
        "time-to-first-byte": "0.249", "x-edge-result-type": "Error", "origin-fbl": "0.200",
        "cs-headers": header.replace(" ", "%20"),
    }  # fmt: skip
    second_line = {"timestamp": "1597271428.000", "sc-status": "200", "x-edge-request-id": "rt-2==",
                   "time-taken": "0.010", "x-edge-result-type": "Hit"}  # fmt: skip
    path.write_text(realtime_line(**first_line) + "\n" + realtime_line(**second_line) + "\n")
    assert looks_like_cloudfront(path.read_bytes()) == "cloudfront-realtime"
    report = import_files([path], store)
    assert report.problems == [] and report.spans == 2
    spans = {s.attributes["aws.cloudfront.request_id"]: s for s in all_spans(store)}
    first = spans["rt-1=="]
    assert first.trace_id == "5f3458a30123456789abcdef01234567" and first.parent_id == "53995c3f42cd8ad8"
    assert (first.start_ns, first.end_ns) == (1597271427_562_000_000, 1597271427_812_000_000)
    assert first.status is Status.FAULT and first.name == "POST /orders"
    assert first.attributes["aws.cloudfront.origin_first_byte_latency_s"] == pytest.approx(0.2)
    assert spans["rt-2=="].parent_id is None and spans["rt-2=="].status is Status.OK


def test_a_realtime_log_with_a_chosen_field_list(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "rt.log"
    path.write_text("1597271427.812\trt-9==\t0.5\t404\n")
    unknown = import_files([path], store)
    assert unknown.spans == 0
    assert "has 4 columns and no '#Fields:' header" in unknown.problems[0].reason
    fields = ["timestamp", "x-edge-request-id", "time-taken", "sc-status"]
    report = import_files([path], store, fmt="cloudfront-realtime", fields=fields)
    assert report.spans == 1 and all_spans(store)[0].status is Status.ERROR


def test_bad_lines_are_reported_with_their_line_and_the_rest_imported(store: Store, tmp_path: Path) -> None:
    lines = FIXTURE.read_text().splitlines()
    lines.insert(3, "2019-12-04\tbroken")
    columns = lines[4].split("\t")
    columns[18] = "soon"  # time-taken
    lines.insert(5, "\t".join(columns))
    path = tmp_path / "bad.log"
    path.write_text("\n".join(lines) + "\n")
    report = import_files([path], store)
    assert report.spans == 6
    assert [(p.position, p.reason) for p in report.problems] == [
        ("line 4", "2 columns where the field list has 33"),
        ("line 6", "time-taken is not a number: 'soon'"),
    ]


def origin_spans(monkeypatch: pytest.MonkeyPatch, cf_id: str) -> list[Span]:
    """What the real tracer records for a Lambda function URL invocation that CloudFront forwarded."""
    lambda_env(monkeypatch)
    exporter = InMemorySpanExporter()
    configure(exporters=[exporter])

    @lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    event = {"version": "2.0", "headers": {"X-Amz-Cf-Id": cf_id, "host": "abc.lambda-url.us-east-1.on.aws"},
             "requestContext": {"http": {"method": "GET", "path": "/index.html"}}}  # fmt: skip
    handler(event, LambdaContext())
    result = otlp_proto.spans_from_request(encode_spans(exporter.get_finished_spans()))
    assert result.errors == []
    return result.spans


def test_an_edge_span_joins_the_origin_trace_that_received_its_request(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cf_id = "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ=="
    origin = origin_spans(monkeypatch, cf_id)
    assert origin[0].attributes["aws.cloudfront.request_id"] == cf_id
    store.write_spans(origin)
    now = time.gmtime(origin[0].end_ns // 1_000_000_000 + 1)
    lines = FIXTURE.read_text().splitlines()[:3]
    lines[2] = "\t".join([time.strftime("%Y-%m-%d", now), time.strftime("%H:%M:%S", now), *lines[2].split("\t")[2:]])
    path = tmp_path / "today.log"
    path.write_text("\n".join(lines) + "\n")
    report = import_files([path], store)
    assert report.problems == [] and report.spans == 1
    trace = store.get_trace(FACADE_ROOT)
    edge = next(s for s in trace.spans if s.service == "cloudfront")
    function = next(s for s in trace.spans if s.service != "cloudfront")
    # The function's parent (the Lambda facade) was not in the store: CloudFront was that hop.
    assert edge.span_id == FACADE_PARENT == function.parent_id
    assert trace.missing_parent == [] and [trace.spans[r].service for r in trace.roots] == ["cloudfront"]


def test_lambda_edge_replicas_are_linked_and_the_regional_origin_wins(store: Store, tmp_path: Path) -> None:
    rid = "req-1=="
    base = 1_700_000_000_000_000_000

    def traced(label: str, service: str, origin: str) -> Span:
        trace_id = f"{base // 10**9:08x}{label * 24}"
        return Span(trace_id, label * 16, None, service, "handler", Kind.SERVER, base, base + 5_000_000,
                    origin=origin, attributes={"aws.cloudfront.request_id": rid})  # fmt: skip

    edge_fn = traced("a", "us-east-1.edge-auth", "spanscope::Lambda@Edge::Function")
    regional = traced("b", "orders-api", "AWS::Lambda::Function")
    store.write_spans([edge_fn, regional])
    path = tmp_path / "rt.log"
    path.write_text(
        realtime_line(**{"timestamp": f"{base / 1e9 + 0.01:.3f}", "x-edge-request-id": rid, "time-taken": "0.02"})
        + "\n"
    )
    import_files([path], store)
    edge = next(s for s in store.get_trace(regional.trace_id).spans if s.service == "cloudfront")
    assert [(lk.trace_id, lk.span_id, lk.attributes) for lk in edge.links] == [
        (edge_fn.trace_id, edge_fn.span_id, {"spanscope.link.kind": "cloudfront"})
    ]


def test_the_cli_imports_a_cloudfront_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from spanscope.cli.main import main

    rc = main(["import", "--db", str(tmp_path / "cli.db"), str(FIXTURE)])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    assert "standard-example.log (cloudfront): 6 spans" in out
    rc = main(["import", "--db", str(tmp_path / "cli.db"), "--format", "cloudfront-realtime",
               "--fields", "timestamp,x-edge-request-id,time-taken", str(FIXTURE)])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 1 and "line 3: 33 columns where the field list has 3" in err
