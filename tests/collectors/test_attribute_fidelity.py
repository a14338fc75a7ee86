"""Attribute values keep what was sent (issue 15, item 5): NaN and ±Infinity stay doubles through the receivers and
the store and are written in JSON the way OTLP JSON writes them; arrays of arrays stay arrays; a key flattened out of
a kvlist never overwrites a real dotted key (or another flattened one)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from spanscope.cli.main import main
from spanscope.collectors.collector import BackgroundCollector
from spanscope.collectors.formats import flatten_into
from spanscope.collectors.formats.otlp_json_out import any_value
from spanscope.collectors.store import open_store

from tests.builders import collector_config

TRACE = "5b8efff798038103d269b633813fc60c"


def _any(value: Any) -> dict[str, Any]:
    """An OTLP JSON AnyValue for a test value (floats as OTLP JSON writes them)."""
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": _any(v)} for k, v in value.items()]}}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any(v) for v in value]}}
    if isinstance(value, float):
        text = {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN" if math.isnan(value) else None)
        return {"doubleValue": text if text is not None else value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": value}


ATTRIBUTES: list[tuple[str, Any]] = [
    ("nan", math.nan),
    ("inf", math.inf),
    ("ninf", -math.inf),
    ("half", 0.5),
    ("nested", [[7], [1.5, "x", [math.inf]]]),
    ("a.b", 1),  # a real dotted key...
    ("a", {"b": 2, "c": {"d": 3}}),  # ...and a kvlist that flattens onto it
    ("a.c", {"d": 4}),  # two kvlists flattening to one key
]


def _json_request(span_id: str) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "fidelity"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": span_id,
                                "name": "GET /",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000100000000",
                                "attributes": [{"key": k, "value": _any(v)} for k, v in ATTRIBUTES],
                            }
                        ]
                    }
                ],
            }
        ]
    }


def _proto_request(span_id: str) -> bytes:
    """The same request as protobuf (built from the JSON with the protobuf library's own JSON parser)."""
    from google.protobuf import json_format

    doc = _json_request(span_id)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                span["spanId"] = _b64(span["spanId"])
                span["traceId"] = _b64(span["traceId"])
    request = json_format.ParseDict(doc, ExportTraceServiceRequest())
    return request.SerializeToString()


def _b64(hex_id: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _check(attributes: dict[str, Any]) -> None:
    assert math.isnan(attributes["nan"]) and isinstance(attributes["nan"], float)
    assert attributes["inf"] == math.inf and attributes["ninf"] == -math.inf
    assert attributes["half"] == 0.5
    assert attributes["nested"] == [[7], [1.5, "x", [math.inf]]]
    assert attributes["a.b"] == 1  # the real dotted key keeps its value
    assert attributes["a.b#2"] == 2  # the flattened one is kept beside it
    assert sorted([attributes["a.c.d"], attributes["a.c.d#2"]]) == [3, 4]


@pytest.fixture
def collector(tmp_path: Path):
    with BackgroundCollector(collector_config(tmp_path / "spans.db")) as running:
        yield running


def test_otlp_json_and_protobuf_values_survive_the_receiver_and_the_store(collector, tmp_path: Path) -> None:
    url = "http://{}:{}/v1/traces".format(*collector.addresses["otlp_http"])
    reply = requests.post(
        url, data=json.dumps(_json_request("eee19b7ec3c1b174")), headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 200, reply.text
    reply = requests.post(
        url, data=_proto_request("eee19b7ec3c1b175"), headers={"Content-Type": "application/x-protobuf"}
    )
    assert reply.status_code == 200, reply.text
    with open_store(tmp_path / "spans.db", readonly=True) as store:
        spans = store.get_trace(TRACE).spans
    assert len(spans) == 2
    for span in spans:
        _check(span.attributes)


def test_show_json_writes_non_finite_doubles_as_otlp_json_does(collector, tmp_path: Path, capsys) -> None:
    url = "http://{}:{}/v1/traces".format(*collector.addresses["otlp_http"])
    requests.post(url, data=json.dumps(_json_request("eee19b7ec3c1b174")), headers={"Content-Type": "application/json"})
    assert main(["show", TRACE, "--json", "--db", str(tmp_path / "spans.db")]) == 0
    doc = json.loads(capsys.readouterr().out)  # strict JSON: no NaN literals
    attributes = doc["spans"][0]["attributes"]
    assert (attributes["nan"], attributes["inf"], attributes["ninf"], attributes["half"]) == (
        "NaN",
        "Infinity",
        "-Infinity",
        0.5,
    )
    assert attributes["nested"] == [[7], [1.5, "x", ["Infinity"]]]


def test_otlp_json_export_writes_non_finite_doubles_as_strings() -> None:
    assert any_value(math.nan) == {"doubleValue": "NaN"}
    assert any_value([[math.inf], -math.inf]) == {
        "arrayValue": {
            "values": [{"arrayValue": {"values": [{"doubleValue": "Infinity"}]}}, {"doubleValue": "-Infinity"}]
        }
    }


def test_xray_metadata_keys_that_flatten_alike_are_both_kept() -> None:
    out: dict[str, Any] = {}
    flatten_into(out, "metadata", {"a.b": 1, "a": {"b": 2}})
    assert out == {"metadata.a.b": 1, "metadata.a.b#2": 2}


def test_kvlist_in_a_protobuf_request_never_overwrites_a_real_dotted_key() -> None:
    from spanscope.collectors.formats.otlp_proto import spans_from_request

    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes.fromhex(TRACE), bytes.fromhex("eee19b7ec3c1b174"), "x"
    span.start_time_unix_nano, span.end_time_unix_nano = 1, 2
    nested = AnyValue()
    nested.kvlist_value.values.append(KeyValue(key="b", value=AnyValue(int_value=2)))
    span.attributes.append(KeyValue(key="a", value=nested))  # the kvlist first, the real key after it
    span.attributes.append(KeyValue(key="a.b", value=AnyValue(int_value=1)))
    attributes = spans_from_request(request).spans[0].attributes
    assert attributes["a.b"] == 1 and attributes["a.b#2"] == 2
