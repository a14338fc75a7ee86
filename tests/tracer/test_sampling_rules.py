"""X-Ray sampling rules: both JSON forms, matching, reservoir per second plus fixed rate, inside the real
OpenTelemetry SDK, and clear errors for unusable rule files."""

from __future__ import annotations

import json
import random

import botocore.session
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from spanscope.tracer.sampling import (
    Reservoir,
    SamplingRule,
    SamplingRulesError,
    XRayRulesSampler,
    load_rules_file,
    parse_local_rules,
    parse_sampling_rule_records,
)

LOCAL_V2 = {
    "version": 2,
    "rules": [
        {"description": "Player moves.", "host": "*", "http_method": "*", "url_path": "/api/move/*",
         "fixed_target": 0, "rate": 0.05},
        {"description": "Health checks", "host": "*", "http_method": "GET", "url_path": "/health",
         "fixed_target": 0, "rate": 0.0},
    ],
    "default": {"fixed_target": 1, "rate": 0.1},
}  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(name, priority, rate, reservoir, **fields):
    rule = {"RuleName": name, "Priority": priority, "FixedRate": rate, "ReservoirSize": reservoir, "Version": 1,
            "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*",
            "ResourceARN": "*"}  # fmt: skip
    rule.update(fields)
    return {"SamplingRule": rule}


def test_local_rules_apply_in_file_order_with_the_default_last():
    rules = parse_local_rules(LOCAL_V2)
    assert [r.name for r in rules] == ["Player moves.", "Health checks", "Default"]
    sampler = XRayRulesSampler(rules)
    assert sampler.rule_for({"url.path": "/api/move/up", "http.request.method": "POST"}) == 0
    assert sampler.rule_for({"url.full": "https://game.example.com/health", "http.method": "GET"}) == 1
    assert sampler.rule_for({"url.path": "/health", "http.request.method": "POST"}) == 2
    assert sampler.rule_for({}) == 2


def test_version_1_names_the_host_service_name():
    doc = {"version": 1, "rules": [{"description": "a", "service_name": "*.example.com", "http_method": "*",
                                    "url_path": "*", "fixed_target": 3, "rate": 0.5}],
           "default": {"fixed_target": 1, "rate": 0.1}}  # fmt: skip
    sampler = XRayRulesSampler(parse_local_rules(doc))
    assert sampler.rule_for({"server.address": "api.example.com"}) == 0
    assert sampler.rule_for({"server.address": "api.example.org"}) == 1


def test_get_sampling_rules_records_by_priority_with_default_last():
    records = [
        record("Default", 10000, 0.05, 1),
        record("lambda-orders", 5, 1.0, 0, ServiceType="AWS::Lambda::Function", ServiceName="orders"),
        record("b-api", 1, 0.2, 2, URLPath="/api/*", Attributes={"tenant": "gold-*"}),
        record("a-api", 1, 0.3, 2, URLPath="/api/*", HTTPMethod="GET"),
        record("future", 0, 1.0, 0, Version=2),
    ]
    rules = parse_sampling_rule_records(records)
    assert [r.name for r in rules] == ["a-api", "b-api", "lambda-orders", "Default"]
    lam = XRayRulesSampler(rules, resource={"service.name": "orders", "cloud.platform": "aws_lambda"})
    ec2 = XRayRulesSampler(rules, resource={"service.name": "orders", "cloud.platform": "aws_ec2"})
    assert lam.rule_for({"url.path": "/x"}) == 2 and ec2.rule_for({"url.path": "/x"}) == 3
    assert lam.rule_for({"url.path": "/api/v", "http.request.method": "get"}) == 0  # case-insensitive
    assert lam.rule_for({"url.path": "/api/v", "tenant": "gold-eu"}) == 1
    assert lam.rule_for({"url.path": "/api/v", "tenant": "silver"}) == 2


def test_record_fields_are_botocores_sampling_rule_shape():
    shape = botocore.session.get_session().get_service_model("xray").shape_for("SamplingRule")
    assert set(record("r", 1, 0.1, 1, Attributes={})["SamplingRule"]) <= set(shape.members)
    assert {"RuleName", "Priority", "FixedRate", "ReservoirSize", "URLPath"} <= set(shape.members)


def test_wildcards():
    rule = SamplingRule("w", 1, 0.0, 0, url_path="/a?c/*", host="*.Example.com")
    kwargs = {"service_name": "", "service_type": "", "http_method": "", "resource_arn": "", "attributes": {}}
    assert rule.matches(host="x.example.COM", url_path="/abc/", **kwargs)
    assert not rule.matches(host="example.com", url_path="/abc/", **kwargs)
    assert not rule.matches(host="x.example.com", url_path="/abbc/d", **kwargs)
    assert SamplingRule("any", 1, 0.0, 0).matches(host="", url_path="", **kwargs)  # "*" matches empty


def test_reservoir_per_second():
    clock = FakeClock()
    reservoir = Reservoir(3, clock)
    assert [reservoir.take() for _ in range(5)] == [True, True, True, False, False]
    clock.now += 0.5
    assert not reservoir.take()
    clock.now += 0.5
    assert [reservoir.take() for _ in range(4)] == [True, True, True, False]
    assert not Reservoir(0, clock).take()


def test_fixed_rate_after_the_reservoir_is_spent():
    clock = FakeClock()
    sampler = XRayRulesSampler([SamplingRule("r", 1, 0.1, 5)], clock=clock)
    rng = random.Random(3)
    decisions = [sampler.should_sample(None, rng.getrandbits(128), "s").decision for _ in range(20_000)]
    sampled = sum(d is Decision.RECORD_AND_SAMPLE for d in decisions)
    assert all(d is Decision.RECORD_AND_SAMPLE for d in decisions[:5])
    assert abs((sampled - 5) / 19_995 - 0.1) < 0.01
    # the same trace id gets the same fixed-rate decision in every process
    other = XRayRulesSampler([SamplingRule("r", 1, 0.1, 0)])
    tid = 0x5759E988BD862E3FE1BE46A994272793
    assert (
        other.should_sample(None, tid, "a").decision
        is XRayRulesSampler([SamplingRule("r", 1, 0.1, 0)]).should_sample(None, tid, "b").decision
    )


def test_in_the_opentelemetry_sdk(tmp_path):
    path = tmp_path / "sampling-rules.json"
    doc = {"version": 2, "rules": [
        {"description": "api", "host": "*", "http_method": "*", "url_path": "/api/*", "fixed_target": 2, "rate": 0.0},
        {"description": "health", "host": "*", "http_method": "*", "url_path": "/health", "fixed_target": 0,
         "rate": 0.0},
    ], "default": {"fixed_target": 0, "rate": 1.0}}  # fmt: skip
    path.write_text(json.dumps(doc))
    clock = FakeClock()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=XRayRulesSampler.from_file(path, clock=clock))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    for i in range(5):
        with (
            tracer.start_as_current_span(f"api {i}", attributes={"url.path": "/api/orders"}),
            tracer.start_as_current_span(f"child {i}"),
        ):
            pass
    for _ in range(3):
        with tracer.start_as_current_span("health", attributes={"url.path": "/health"}):
            pass
    with tracer.start_as_current_span("other", attributes={"url.path": "/"}):
        pass
    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == ["api 0", "api 1", "child 0", "child 1", "other"]  # reservoir 2/s; children follow
    provider.shutdown()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 3, "default": {"fixed_target": 1, "rate": 0.1}}, "version must be 1 or 2"),
        ({"version": 2, "rules": []}, "a 'default' rule"),
        ({"version": 2, "default": {"fixed_target": 1, "rate": 2}}, "fixed rate 2.0 is not in [0, 1]"),
        ({"version": 2, "default": {"fixed_target": 1.5, "rate": 0.1}}, "fixed_target must be a whole number"),
        ({"version": 2, "default": {"fixed_target": 1, "rate": 0.1, "host": "x"}}, "only fixed_target and rate"),
        (
            {"version": 2, "rules": [{"description": "x", "rate": 0.1}], "default": {"fixed_target": 1, "rate": 0.1}},
            "sampling rule 1: fixed_target must be",
        ),
        (
            {
                "SamplingRuleRecords": [
                    {"SamplingRule": {"RuleName": "r", "Priority": 1, "FixedRate": -1, "ReservoirSize": 0}}
                ]
            },
            "fixed rate -1.0",
        ),
    ],
)
def test_unusable_rules_name_the_rule_and_the_field(tmp_path, document, message):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SamplingRulesError) as info:
        load_rules_file(path)
    assert message in str(info.value)


def test_unreadable_file(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text("{not json")
    with pytest.raises(SamplingRulesError, match=r"sampling rules file .*rules\.json"):
        load_rules_file(path)


# --- the decorator decides rules roots itself: an unsampled @trace root builds no span -----------------


def _rules_sampler(clock: FakeClock, *rules: SamplingRule):
    from opentelemetry.sdk.trace.sampling import ParentBased

    return ParentBased(XRayRulesSampler(list(rules), resource={"service.name": "test-svc"}, clock=clock))


def test_decorator_decides_rules_roots_without_building_unsampled_spans(clean_env):
    from opentelemetry import trace as otel_trace
    from spanscope.tracer import configure, trace
    from spanscope.tracer.otel_backend import UnsampledRoot
    from spanscope.tracer.runtime import RUNTIME

    clock = FakeClock()
    sampler = _rules_sampler(
        clock,
        SamplingRule("orders", 1, 0.0, 2, url_path="/orders"),
        SamplingRule("mine", 2, 0.0, 0, service_name="test-svc"),
        SamplingRule("Default", 10_000, 1.0, 0),
    )
    memory = InMemorySpanExporter()
    configure(service="test-svc", exporters=[memory], sampling=sampler)
    backend = RUNTIME.backend
    assert getattr(backend, "lean", False) and backend.decide_root is not None
    seen: list[object] = []

    @trace("child")
    def child() -> int:
        seen.append(otel_trace.get_current_span())
        return 2

    @trace("plain")
    def plain() -> int:
        seen.append(otel_trace.get_current_span())
        return child()

    @trace("orders", attributes={"url.path": "/orders"})
    def orders() -> int:
        return child()

    assert [plain() for _ in range(3)] == [2, 2, 2]  # rule "mine": rate 0, reservoir 0
    assert all(type(s) is UnsampledRoot for s in seen)  # the children saw the unsampled root: skipped
    assert memory.get_finished_spans() == ()
    assert [orders() for _ in range(3)] == [2, 2, 2]  # reservoir 2 a second, then rate 0
    names = sorted(s.name for s in memory.get_finished_spans())
    assert names == ["child", "child", "orders", "orders"]
    spans = memory.get_finished_spans()
    assert len({s.context.trace_id for s in spans}) == 2 and all(s.context.trace_flags.sampled for s in spans)
    stats = {name: (req, smp, bor) for name, req, smp, bor in sampler._root.take_statistics()}
    assert stats == {"orders": (3, 2, 2), "mine": (3, 0, 0), "Default": (0, 0, 0)}


def test_decorator_rate_follows_the_trace_id_like_the_sdk(clean_env):
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
    from spanscope.tracer import configure, trace

    sampler = _rules_sampler(FakeClock(), SamplingRule("Default", 10_000, 0.25, 0))
    memory = InMemorySpanExporter()
    configure(service="test-svc", exporters=[memory], sampling=sampler)

    @trace("root")
    def root() -> None:
        return None

    for _ in range(400):
        root()
    spans = memory.get_finished_spans()
    ratio = TraceIdRatioBased(0.25)
    assert 40 < len(spans) < 160  # about a quarter (seeded by the process's RNG; bounds far from chance)
    assert all(ratio.should_sample(None, s.context.trace_id, "x").decision.is_sampled() for s in spans)
    stats = sampler._root.take_statistics()
    assert stats == [("Default", 400, len(spans), 0)]


def test_a_failing_rules_decision_never_reaches_the_caller(clean_env):
    from spanscope.tracer import configure, trace
    from spanscope.tracer.health import HEALTH
    from spanscope.tracer.runtime import RUNTIME

    memory = InMemorySpanExporter()
    configure(service="test-svc", exporters=[memory], sampling=_rules_sampler(FakeClock(), SamplingRule("D", 1, 1, 0)))

    def broken(_low: int, _attributes: object) -> bool:
        raise RuntimeError("boom")

    RUNTIME.backend.decide_root = broken
    before = HEALTH.stats().get("span_start", 0)

    @trace("f")
    def f(x: int) -> int:
        return x + 1

    assert f(1) == 2
    assert HEALTH.stats().get("span_start", 0) == before + 1


def test_decide_matches_should_sample_and_the_plain_rule():
    clock = FakeClock()
    rules = [SamplingRule("api", 1, 0.0, 0, url_path="/api/*"), SamplingRule("Default", 10_000, 0.5, 0)]
    sampler = XRayRulesSampler(rules, clock=clock)
    rng = random.Random(7)
    for _ in range(2_000):
        tid = rng.getrandbits(128)
        for attributes in (None, {"url.path": "/api/x"}, {"url.path": "/"}):
            expected = sampler.should_sample(None, tid, "s", attributes=attributes).decision.is_sampled()
            assert sampler.decide(tid & ((1 << 64) - 1), attributes) is expected
    sampler.apply_targets({"Default": (1.0, None)})
    assert sampler.decide((1 << 64) - 1, None)  # the new rate's bound, not the old one
