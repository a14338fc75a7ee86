"""BubbleUp for any selection: errors, a filter expression, a latency band; significance, identifiers set aside,
and `spanscope analyze --select` (the bubbleup JSON key next to today's keys, and the Markdown section)."""

from __future__ import annotations

import json
import math

import pytest
from spanscope.analysis.bubbleup import (
    Selection,
    bubbleup,
    fisher_exact_p,
    independence_p,
    parse_selection,
)
from spanscope.analysis.filters import compile_filter
from spanscope.cli.main import main
from spanscope.collectors.errors import AnalysisError
from spanscope.collectors.model import Kind, Status, Trace
from spanscope.collectors.store import open_store

from tests.builders import build_spans

N = 60


def incident(i: int, *, throttled: bool, slow: bool = False) -> list:
    """An API call reading DynamoDB; throttled calls hit the hot table; slow ones missed the cache."""
    end = 900 if slow else 120
    return build_spans(
        [
            (
                "api",
                None,
                0,
                end,
                {
                    "service": "api",
                    "kind": Kind.SERVER,
                    "attributes": {
                        "aws.request_id": f"req-{i:04d}",  # per request: known identifier
                        "app.correlation": f"c{i * 7919 % 10007}",  # unique per trace: found by cardinality
                        "cache.hit": not slow,
                        "http.route": "/orders",
                    },
                    "resource": {"service.instance.id": f"proc-{i % 4}", "service.version": "1.4.2"},
                },
            ),
            (
                "ddb",
                "api",
                10,
                end - 10,
                {
                    "service": "api",
                    "kind": Kind.CLIENT,
                    "namespace": "aws",
                    "remote_service": "DynamoDB",
                    "status": Status.THROTTLE if throttled else Status.OK,
                    "attributes": {"aws.dynamodb.table_names": ["orders-hot" if throttled else "orders"]},
                },
            ),
        ],
        trace=f"incident-{i}",
    )


def traces(n: int = N) -> list[Trace]:
    out = []
    for i in range(n):
        spans = incident(i, throttled=i % 4 == 0, slow=i % 10 == 3)
        out.append(Trace(spans[0].trace_id, spans))
    return out


def test_error_only_incident_names_the_hot_table_and_sets_identifiers_aside():
    result = bubbleup(traces(), Selection.errors())
    assert (result.selected_traces, result.rest_traces) == (15, 45)
    top = result.findings[0]
    assert (top.key, top.value, top.selected_share, top.rest_share) == ("aws.dynamodb.table_names", "orders-hot", 1, 0)
    assert top.q_value < 1e-6
    keys = {f.key for f in result.findings}
    assert "service.version" not in keys and "http.route" not in keys  # on every trace: no contrast
    assert "cache.hit" not in keys  # unrelated to the throttling: not significant
    aside = {s.key: s.reason for s in result.set_aside}
    assert aside == {
        "aws.request_id": "identifier",
        "app.correlation": "identifier",
        "service.instance.id": "identifier",
    }


def test_a_filter_expression_selects():
    expression = 'service("DynamoDB") { throttle }'
    result = bubbleup(traces(), Selection.matching(expression, compile_filter(expression)))
    assert result.selected_traces == 15
    assert result.findings[0].value == "orders-hot"


def test_a_latency_band_selects_the_slow_traces():
    result = bubbleup(traces(), Selection.latency("0.5", None))
    assert result.selected_traces == 6
    top = result.findings[0]
    assert (top.key, top.value, top.selected_share) == ("cache.hit", "False", 1.0)
    by_percentile = bubbleup(traces(), parse_selection("latency:p90-", compile_filter))
    assert by_percentile.selected_traces == 6
    assert by_percentile.band_s == (pytest.approx(0.12), None)  # the 54 fast traces take 120 ms


def test_an_empty_selection_says_so_and_finds_nothing():
    result = bubbleup(traces(), Selection.latency("100", None))
    assert result.selected_traces == 0 and result.findings == []
    assert result.notes == ["no trace is in the selection"]


def test_small_samples_are_not_significant():
    """Two throttled traces out of five cannot show anything at alpha 0.05 after adjustment."""
    result = bubbleup(traces(5), Selection.errors())
    assert result.selected_traces == 2
    assert result.findings == []


def test_significance_tests_against_known_values():
    assert fisher_exact_p(3, 1, 1, 3) == pytest.approx(0.4857142857)  # Fisher's tea tasting
    assert fisher_exact_p(8, 2, 1, 5) == pytest.approx(0.03496503)
    chi2 = 200 * (20 * 60 - 80 * 40) ** 2 / (100 * 100 * 60 * 140)
    assert independence_p(20, 80, 40, 60) == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))
    assert independence_p(0, 10, 0, 10) == 1.0


@pytest.mark.parametrize("text", ["latency:", "latency:abc-", "latency:p200-", "latency:5"])
def test_bad_latency_bands_are_rejected(text):
    with pytest.raises(AnalysisError, match="latency band"):
        parse_selection(text, compile_filter)


def test_analyze_select_in_json_and_markdown(tmp_path, capsys):
    db = tmp_path / "spans.db"
    with open_store(db) as store:
        for i in range(N):
            store.write_spans(incident(i, throttled=i % 4 == 0, slow=i % 10 == 3))
    assert main(["analyze", "--db", str(db), "--format", "json", "--select", "errors"]) == 0
    document = json.loads(capsys.readouterr().out)
    for key in ("hotspots", "failure_chains", "stragglers", "cold_starts", "traces"):
        assert key in document
    bubble = document["bubbleup"]
    assert bubble["selection"] == "errors" and bubble["selected_traces"] == 15
    assert bubble["findings"][0]["value"] == "orders-hot" and bubble["findings"][0]["direction"] == "over"
    assert {s["key"] for s in bubble["set_aside"]} >= {"service.instance.id", "aws.request_id"}

    assert main(["analyze", "--db", str(db), "--select", "attribute.cache.hit = false"]) == 0
    text = capsys.readouterr().out
    assert "## BubbleUp: attribute.cache.hit = false vs the rest" in text
    assert "6 selected traces, 54 others" in text

    assert main(["analyze", "--db", str(db), "--format", "json"]) == 0
    assert "bubbleup" not in json.loads(capsys.readouterr().out)
    # --filter goes through the store's text search; a list attribute matches by element
    hot = 'attribute.aws.dynamodb.table_names = "orders-hot"'
    assert main(["analyze", "--db", str(db), "--format", "json", "--filter", hot]) == 0
    assert json.loads(capsys.readouterr().out)["traces"] == 15
    route = 'attribute.http.route = "/orders"'
    assert main(["analyze", "--db", str(db), "--format", "json", "--filter", route, "--select", "latency:0.5-"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["traces"] == 60 and document["bubbleup"]["selected_traces"] == 6
    assert main(["analyze", "--db", str(db), "--select", "latency:x-"]) != 0
    assert "latency band end 'x'" in capsys.readouterr().err
