"""No datagram or request body, however malformed, raises out of the receivers' parsing."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spanscope.collectors.formats.xray import spans_from_document
from spanscope.collectors.receivers.otlp_http import _parse, _Reject
from spanscope.collectors.receivers.xray_udp import parse_datagram

HEADER = b'{"format": "json", "version": 1}\n'
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
segment_keys = st.sampled_from(
    [
        "name",
        "id",
        "trace_id",
        "start_time",
        "end_time",
        "in_progress",
        "parent_id",
        "type",
        "subsegments",
        "http",
        "aws",
        "annotations",
        "metadata",
        "cause",
        "error",
        "fault",
        "throttle",
        "namespace",
        "origin",
    ]
)
segments = st.dictionaries(segment_keys, json_values, max_size=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | segments.map(lambda d: HEADER + orjson.dumps(d)))
def test_any_datagram_gives_spans_or_a_reason(data: bytes) -> None:
    spans, reason = parse_datagram(data, spans_from_document)
    assert (reason is None) == bool(spans)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.booleans())
def test_any_body_parses_or_is_rejected_with_400(body: bytes, is_json: bool) -> None:
    try:
        _parse(body, is_json)
    except _Reject as rej:
        assert rej.status == 400


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_document_parses_or_is_rejected_with_400(doc) -> None:
    try:
        _parse(orjson.dumps(doc), True)
    except _Reject as rej:
        assert rej.status == 400
