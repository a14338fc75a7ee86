"""The fleet's sampling set in one place: `spanscope sampling serve` answers X-Ray's GetSamplingRules and
GetSamplingTargets (checked with the real boto3 X-Ray client), and RemoteRulesSampler follows it.

moto does not implement these two APIs, so the real botocore client talks to our server on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased
from spanscope.collectors.sampling_service import SamplingService, serve_sampling
from spanscope.tracer import configure, trace
from spanscope.tracer.health import HEALTH
from spanscope.tracer.runtime import RUNTIME
from spanscope.tracer.sampling import SamplingRule, parse_local_rules
from spanscope.tracer.sampling.remote import RemoteRulesSampler

RULES = parse_local_rules(
    {
        "version": 2,
        "rules": [
            {
                "description": "api",
                "host": "*",
                "http_method": "*",
                "url_path": "/api/*",
                "fixed_target": 10,
                "rate": 0.0,
            },
        ],
        "default": {"fixed_target": 0, "rate": 1.0},
    }
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = serve_sampling(SamplingService(RULES), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def xray(endpoint: str):
    return boto3.client(
        "xray", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_boto3_reads_rules_and_targets(endpoint):
    client = xray(endpoint)
    records = client.get_sampling_rules()["SamplingRuleRecords"]
    assert [(r["SamplingRule"]["RuleName"], r["SamplingRule"]["ReservoirSize"]) for r in records] == [
        ("api", 10),
        ("Default", 0),
    ]
    assert records[0]["SamplingRule"]["URLPath"] == "/api/*"

    def targets(client_id: str) -> dict:
        stats = [
            {
                "RuleName": "api",
                "ClientID": client_id,
                "Timestamp": 1,
                "RequestCount": 5,
                "SampledCount": 5,
                "BorrowCount": 0,
            }
        ]
        return client.get_sampling_targets(SamplingStatisticsDocuments=stats)

    first = targets("a" * 24)["SamplingTargetDocuments"]
    assert [(d["RuleName"], d["FixedRate"], d["ReservoirQuota"]) for d in first] == [("api", 0.0, 10)]
    second = targets("b" * 24)["SamplingTargetDocuments"]
    assert second[0]["ReservoirQuota"] == 5  # the fleet's 10 per second shared by two processes
    unknown = client.get_sampling_targets(
        SamplingStatisticsDocuments=[
            {"RuleName": "nope", "ClientID": "c" * 24, "Timestamp": 1, "RequestCount": 1, "SampledCount": 0}
        ]
    )
    assert unknown["UnprocessedStatistics"][0]["RuleName"] == "nope"


def test_bad_requests_are_answered_400(endpoint):
    request = urllib.request.Request(endpoint + "/SamplingTargets", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 400
    assert json.loads(info.value.read())["__type"] == "InvalidRequestException"
    request = urllib.request.Request(endpoint + "/Nope", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 404


def test_remote_sampler_follows_the_served_rules_and_quota(endpoint):
    clock = FakeClock()
    other = RemoteRulesSampler(endpoint, clock=clock)  # a second process of the fleet
    sampler = RemoteRulesSampler(endpoint, clock=clock)
    # before any refresh: X-Ray's fallback, 1 per second then 5 %
    assert [r.name for r in sampler.local.rules] == ["Default"]
    assert other.refresh() and sampler.refresh()
    assert [r.name for r in sampler.local.rules] == ["api", "Default"]
    assert sampler.refresh()  # both processes have reported now: its quota is 10 / 2

    def decide(path: str) -> Decision:
        return sampler.should_sample(None, 0xFFFF_FFFF_FFFF_FFFF_FFFF, "s", attributes={"url.path": path}).decision

    api = [decide("/api/orders") for _ in range(8)]
    assert api.count(Decision.RECORD_AND_SAMPLE) == 5  # its share of the fleet's reservoir, rate 0 after
    assert decide("/") is Decision.RECORD_AND_SAMPLE  # default rule: rate 1
    stats = dict((name, (req, smp, bor)) for name, req, smp, bor in sampler.local.take_statistics())
    assert stats == {"api": (8, 5, 5), "Default": (1, 1, 0)}


def test_an_unreachable_source_keeps_the_rules_and_never_raises():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sampler = RemoteRulesSampler(f"http://127.0.0.1:{port}", timeout_s=1)
    before = HEALTH.stats().get("sampling_rules_failed", 0)
    assert sampler.refresh() is False
    assert HEALTH.stats().get("sampling_rules_failed", 0) == before + 1
    assert [r.name for r in sampler.local.rules] == ["Default"]
    assert sampler.should_sample(None, 1, "s").decision is Decision.RECORD_AND_SAMPLE  # the fallback's reservoir


def test_sampling_serve_command(tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"version": 2, "rules": [], "default": {"fixed_target": 2, "rate": 0.5}}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spanscope.cli.main",
            "sampling",
            "serve",
            "--rules",
            str(rules),
            "--listen",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening sampling 127.0.0.1:") and "(1 rules)" in line
        port = int(line.split(":")[1].split()[0])
        records = xray(f"http://127.0.0.1:{port}").get_sampling_rules()["SamplingRuleRecords"]
        assert [(r["SamplingRule"]["RuleName"], r["SamplingRule"]["FixedRate"]) for r in records] == [("Default", 0.5)]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_sampling_serve_rejects_a_bad_file(tmp_path, capsys):
    from spanscope.cli.main import main

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"version": 9}))
    assert main(["sampling", "serve", "--rules", str(rules), "--listen", "127.0.0.1:0"]) == 2
    assert "version must be 1 or 2" in capsys.readouterr().err


def test_rules_with_attributes_round_trip():
    service = SamplingService([SamplingRule("t", 1, 0.5, 1, attributes={"tenant": "gold"})])
    record = service.get_sampling_rules({})["SamplingRuleRecords"][0]["SamplingRule"]
    assert record["Attributes"] == {"tenant": "gold"} and record["Version"] == 1


# --- the collector serves the same two APIs on its OTLP/HTTP port (collect --sampling-rules) -----------


def test_collect_serves_the_rules_file_to_boto3_and_remote_samplers(tmp_path):
    from tests.collectors.test_collect_cli import start_collect, stop

    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {
                "version": 2,
                "rules": [{"description": "api", "host": "*", "http_method": "*", "url_path": "/api/*",
                           "fixed_target": 10, "rate": 0.0}],
                "default": {"fixed_target": 0, "rate": 1.0},
            }
        )
    )  # fmt: skip
    proc, addresses = start_collect(tmp_path / "s.db", "--sampling-rules", str(rules))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"sampling rules {rules} (2 rules) on otlp-http\n"
        host, port = addresses["otlp-http"]
        endpoint = f"http://{host}:{port}"
        records = xray(endpoint).get_sampling_rules()["SamplingRuleRecords"]
        assert [(r["SamplingRule"]["RuleName"], r["SamplingRule"]["ReservoirSize"]) for r in records] == [
            ("api", 10),
            ("Default", 0),
        ]
        clock = FakeClock()
        other = RemoteRulesSampler(endpoint, clock=clock)  # two processes of one fleet
        sampler = RemoteRulesSampler(endpoint, clock=clock)
        assert other.refresh() and sampler.refresh() and sampler.refresh()

        def decide(path: str) -> Decision:
            return sampler.should_sample(None, 1 << 70 | 0xFFFF, "s", attributes={"url.path": path}).decision

        api = [decide("/api/orders") for _ in range(8)]
        assert api.count(Decision.RECORD_AND_SAMPLE) == 5  # half the fleet's reservoir of 10, then rate 0
        assert decide("/") is Decision.RECORD_AND_SAMPLE  # Default: rate 1
        # the same rules in the tracer's decorators, which decide roots through the sampler itself
        exporter = InMemorySpanExporter()
        configure(service="shop", exporters=[exporter], sampling=ParentBased(sampler))
        try:
            assert RUNTIME.backend.decide_root is not None

            @trace("GET /api/orders", attributes={"url.path": "/api/orders"})
            def handler() -> str:
                return "ok"

            clock.now += 1  # a new second: the reservoir's share again
            assert [handler() for _ in range(8)] == ["ok"] * 8
            assert len(exporter.get_finished_spans()) == 5
        finally:
            configure(service="shop", exporters=[], sampling=1.0)
        # the statistics reach the collector: boto3 sees this client's report answered with its share
        targets = xray(endpoint).get_sampling_targets(
            SamplingStatisticsDocuments=[
                {"RuleName": "api", "ClientID": sampler.client_id, "Timestamp": 1, "RequestCount": 8,
                 "SampledCount": 5, "BorrowCount": 5},
            ]
        )["SamplingTargetDocuments"]  # fmt: skip
        assert [(t["RuleName"], t["ReservoirQuota"], t["FixedRate"]) for t in targets] == [("api", 5, 0.0)]
        bad = urllib.request.Request(endpoint + "/SamplingTargets", data=b"{not json", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad, timeout=5)
        assert info.value.code == 400
        with urllib.request.urlopen(endpoint + "/v1/stats", timeout=5) as response:
            counters = json.loads(response.read())
        assert counters["sampling.rejected"] == 1 and counters["sampling.requests"] >= 6
    finally:
        assert stop(proc, 15)[0] == 0


def test_collect_without_rules_has_no_sampling_api(tmp_path):
    from tests.collectors.test_collect_cli import start_collect, stop

    proc, addresses = start_collect(tmp_path / "s.db")
    try:
        host, port = addresses["otlp-http"]
        request = urllib.request.Request(f"http://{host}:{port}/GetSamplingRules", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code in (404, 405)
    finally:
        assert stop(proc, 15)[0] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "sampling rules file"), (json.dumps({"version": 9}), "version must be 1 or 2")],
)
def test_collect_with_a_bad_rules_file_is_a_one_line_error(tmp_path, content, message):
    rules = tmp_path / "rules.json"
    rules.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "spanscope.cli.main", "collect", "--db", str(tmp_path / "s.db"),
         "--xray-udp", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "off",
         "--sampling-rules", str(rules)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spanscope collect: --sampling-rules:") and message in lines[0]
    assert "listening" not in result.stdout
