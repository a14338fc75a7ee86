"""OTel span -> X-Ray segment documents as a whole: segments, nesting, names, links, the translation core;
every document is validated against the v1.0.0 schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import Link, SpanContext, SpanKind, StatusCode
from spanscope.tracer.xray import names
from spanscope.tracer.xray.core.ids import xray_trace_id
from spanscope.tracer.xray.core.text import fix_segment_name
from spanscope.tracer.xray.documents import TranslationOptions, document_trees, segment_documents, span_document

from tests.tracer.xray_schema import TRACE_ID, Recorder, deep_chain, remote_parent, validate


@pytest.fixture
def rec() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.provider.shutdown()


def test_trace_id_is_in_xray_form() -> None:
    assert xray_trace_id(TRACE_ID) == "1-6921f3a0-bd862e3fe1be46a994272793"


def test_children_are_subsegments_nested_under_their_segment(rec: Recorder) -> None:
    with (
        rec.tracer.start_as_current_span("handler", kind=SpanKind.SERVER),
        rec.tracer.start_as_current_span("validate"),
        rec.tracer.start_as_current_span("load-rules"),
    ):
        pass
    spans = rec.spans()
    docs = segment_documents(spans)
    assert len(docs) == 1
    seg = validate(docs[0])
    assert seg["name"] == "checkout"
    (validate_doc,) = seg["subsegments"]
    assert validate_doc["name"] == "validate"
    assert "trace_id" not in validate_doc and "parent_id" not in validate_doc
    assert validate_doc["subsegments"][0]["name"] == "load-rules"
    # The same spans as independent documents carry type / parent_id / trace_id.
    flat = validate(span_document(rec.by_name("validate")))
    assert flat["type"] == "subsegment"
    assert flat["parent_id"] == seg["id"]
    assert flat["trace_id"] == seg["trace_id"]


def test_subsegment_whose_parent_is_in_another_batch_stands_alone(rec: Recorder) -> None:
    with rec.tracer.start_as_current_span("root"), rec.tracer.start_as_current_span("child"):
        pass
    child = rec.by_name("child")
    trees = document_trees([child])
    assert len(trees) == 1
    doc = validate(trees[0].nested())
    assert doc["type"] == "subsegment"
    assert doc["parent_id"] == format(rec.by_name("root").context.span_id, "016x")


def test_span_with_remote_parent_is_a_segment_with_parent_id(rec: Recorder) -> None:
    with rec.tracer.start_as_current_span("consume", context=remote_parent(), kind=SpanKind.CONSUMER):
        pass
    doc = validate(span_document(rec.by_name("consume")))
    assert "type" not in doc
    assert doc["parent_id"] == "53995c3f42cd8ad8"
    assert doc["trace_id"] == "1-6921f3a0-bd862e3fe1be46a994272793"
    assert doc["metadata"]["default"]["otel.span.kind"] == "consumer"


def test_links_are_emitted_with_xray_trace_ids(rec: Recorder) -> None:
    producer = SpanContext(TRACE_ID, 0x1111222233334444, is_remote=True)
    link = Link(producer, attributes={"spanscope.link.kind": "sqs"})
    with rec.tracer.start_as_current_span("consume", kind=SpanKind.CONSUMER, links=[link]):
        pass
    doc = validate(span_document(rec.by_name("consume")))
    assert doc["links"] == [
        {
            "trace_id": "1-6921f3a0-bd862e3fe1be46a994272793",
            "id": "1111222233334444",
            "attributes": {"spanscope.link.kind": "sqs"},
        }
    ]


def test_in_progress_span(rec: Recorder) -> None:
    span = rec.tracer.start_span("long-job", kind=SpanKind.SERVER)
    readable = span._readable_span()  # type: ignore[attr-defined]
    doc = validate(span_document(readable))
    assert doc["in_progress"] is True
    assert "end_time" not in doc
    span.end()
    assert "in_progress" not in validate(span_document(rec.by_name("long-job")))


def test_origin_from_spanscope_origin_overrides_platform() -> None:
    recorder = Recorder(**{"spanscope.origin": "spanscope::Greengrass::Device", "cloud.platform": "aws_ec2"})
    with recorder.tracer.start_as_current_span("tick"):
        pass
    doc = validate(span_document(recorder.by_name("tick")))
    assert doc["origin"] == "spanscope::Greengrass::Device"
    recorder.provider.shutdown()


def test_segment_names_are_made_legal() -> None:
    assert fix_segment_name("GET /a/{b}") == "GET /a/b"
    assert fix_segment_name("\x1b]8;;evil\x07name") == "8evilname"
    assert fix_segment_name("Zürich-日本") == "Zürich-日本"
    assert len(fix_segment_name("a" * 500)) == 200
    assert fix_segment_name("{}") == "span"


def test_deep_chain_translates_without_recursion(rec: Recorder) -> None:
    deep_chain(rec, 3000)
    trees = document_trees(rec.spans())
    assert len(trees) == 1
    assert trees[0].span_count() == 3000
    nested = trees[0].nested()
    depth = 0
    node = nested
    while "subsegments" in node:
        node = node["subsegments"][0]
        depth += 1
    assert depth == 2999


def test_names_copy_agrees_with_collectors_conventions() -> None:
    from spanscope.collectors import conventions

    shared = [name for name in dir(names) if name.isupper() and hasattr(conventions, name) and not name.startswith("_")]
    assert len(shared) >= 30
    for name in shared:
        assert getattr(names, name) == getattr(conventions, name), name
    for platform, origin in names.PLATFORM_ORIGINS.items():
        assert conventions.PLATFORM_ORIGINS[platform] == origin


def test_the_collectors_xray_trace_id_agrees_with_the_core() -> None:
    # The collectors' model keeps its own (validating) copy: importing anything of spanscope.tracer from
    # the model would load the OpenTelemetry API into every collectors, analysis and CLI process.
    import random

    from spanscope.collectors.model import xray_trace_id as model_xray_trace_id

    rng = random.Random(18)
    for trace_id in [0x5759E988BD862E3FE1BE46A994272793, 1, *(rng.getrandbits(128) or 1 for _ in range(200))]:
        text = format(trace_id, "032x")
        assert model_xray_trace_id(text) == xray_trace_id(trace_id) == xray_trace_id(text)


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
_values = st.one_of(
    _text,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(_text, max_size=3),
    st.lists(st.integers(-100, 100), max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_text,
    kind=st.sampled_from(list(SpanKind)),
    attributes=st.dictionaries(_text.filter(bool), _values, max_size=6),
    annotate=st.lists(_text, max_size=4),
    status=st.sampled_from([StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR]),
    http_status=st.one_of(st.none(), st.integers(100, 599)),
    remote=st.booleans(),
)
def test_any_span_yields_schema_valid_documents(
    rec: Recorder,
    name: str,
    kind: SpanKind,
    attributes: dict[str, Any],
    annotate: list[str],
    status: StatusCode,
    http_status: int | None,
    remote: bool,
) -> None:
    rec.memory.clear()
    attrs = dict(attributes)
    attrs["aws.xray.annotations"] = [*annotate, *list(attributes)[:2]]
    if http_status is not None:
        attrs["http.response.status_code"] = http_status
    ctx = remote_parent() if remote else None
    with (
        rec.tracer.start_as_current_span("outer", context=ctx, kind=SpanKind.SERVER),
        rec.tracer.start_as_current_span(name, kind=kind, attributes=attrs) as span,
    ):
        span.set_status(status)
        span.add_event(name, {"k": name})
    for doc in segment_documents(rec.spans()):
        validate(doc)
    for finished in rec.spans():
        validate(span_document(finished))


def test_module_doctests() -> None:
    import doctest

    from spanscope.tracer.xray import documents, exporter
    from spanscope.tracer.xray.core import blocks, ids, text

    for module in (documents, exporter, blocks, ids, text):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


def test_lambda_entry_span_can_be_a_subsegment_of_the_facade() -> None:
    recorder = Recorder(**{"cloud.platform": "aws_lambda", "faas.name": "checkout-fn"})
    facade = remote_parent(span_id=0x2222333344445555)
    with (
        recorder.tracer.start_as_current_span("checkout-fn", context=facade, kind=SpanKind.SERVER),
        recorder.tracer.start_as_current_span("charge"),
    ):
        pass
    spans = recorder.spans()
    default = [validate(d) for d in segment_documents(spans)]
    assert len(default) == 1 and "type" not in default[0] and default[0]["origin"] == "AWS::Lambda::Function"
    options = TranslationOptions(lambda_facade_subsegments=True)
    (doc,) = [validate(d) for d in segment_documents(spans, options)]
    assert doc["type"] == "subsegment"
    assert doc["parent_id"] == "2222333344445555"
    assert doc["name"] == "checkout-fn"
    assert "origin" not in doc
    assert doc["subsegments"][0]["name"] == "charge"
    recorder.provider.shutdown()
