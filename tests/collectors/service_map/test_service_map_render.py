"""Service map output: GetServiceGraph JSON (validated against botocore's model), text, DOT, Mermaid, grouping."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest
from spanscope.collectors.conventions import ORIGIN_EDGE_DEVICE, ORIGIN_LAMBDA, ORIGIN_LAMBDA_EDGE
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.service_map import CLIENT_NODE, build_service_map
from spanscope.collectors.service_map.compare import compare_maps
from spanscope.collectors.service_map.location import describe_location, location_clusters
from spanscope.collectors.service_map.render_json import service_graph_json
from spanscope.render.map_graphviz import render_map_dot, render_map_mermaid
from spanscope.render.map_text import render_map_text

from tests.builders import BASE_NS, build_trace, ddb_call, lam, sqs_send

EXTENSION_KEYS = {"Spanscope", "Comparison"}  # our documented additions; everything else is X-Ray's


def _output_shape():
    model = botocore.session.get_session().get_service_model("xray")
    return model.operation_model("GetServiceGraph").output_shape


def validate_shape(value: Any, shape, path: str = "$") -> None:
    """Strict structural check of ``value`` against a botocore shape (unknown keys fail)."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        for key, item in value.items():
            if key in EXTENSION_KEYS:
                continue
            assert key in shape.members, f"{path}.{key} is not in {shape.name}"
            validate_shape(item, shape.members[key], f"{path}.{key}")
        for key in shape.required_members:
            assert key in value, f"{path}.{key} required"
    elif kind == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            validate_shape(item, shape.member, f"{path}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), path
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), path
    elif kind in ("double", "float", "timestamp"):
        assert isinstance(value, int | float) and not isinstance(value, bool), path
    elif kind == "boolean":
        assert isinstance(value, bool), path
    else:  # pragma: no cover - the model has no other kinds here
        raise AssertionError(f"{path}: unexpected shape kind {kind}")


def sample_traces(n: int = 4, *, fault_every: int = 0, slow: bool = False):
    traces = []
    for i in range(n):
        status = Status.FAULT if fault_every and i % fault_every == 0 else Status.OK
        end = 400 if slow else 100
        traces.append(
            build_trace(
                [
                    ("root", None, 0, end, lam("api", status=status, resource={"cloud.region": "us-east-1"})),
                    ("get", "root", 10, 30, ddb_call()),
                    ("send", "root", 40, 45, sqs_send()),
                ],
                trace=f"p{i}",
            )
        )
        traces.append(
            build_trace(
                [
                    (
                        "work",
                        None,
                        100,
                        160,
                        lam(
                            "worker",
                            kind=Kind.CONSUMER,
                            links=[(f"p{i}", "send")],
                            resource={"cloud.region": "eu-west-1"},
                        ),
                    )
                ],
                trace=f"c{i}",
            )
        )
        traces.append(
            build_trace(
                [
                    ("edge", None, 0, 5, {"service": "viewer-fn", "origin": ORIGIN_LAMBDA_EDGE,
                                          "kind": Kind.SERVER, "attributes": {"spanscope.location": "edge:IAD89-C1"}}),
                    ("dev", "edge", 1, 2, {"service": "thing-7", "origin": ORIGIN_EDGE_DEVICE,
                                           "resource": {"spanscope.location": "device:thing-7"}}),
                ],
                trace=f"e{i}",
            )
        )  # fmt: skip
    return traces


# --- JSON -------------------------------------------------------------------------------------------


def test_json_validates_against_botocore_get_service_graph_shape():
    doc = service_graph_json(build_service_map(sample_traces()))
    doc = json.loads(json.dumps(doc))  # what the CLI prints
    validate_shape(doc, _output_shape())


def test_json_content_matches_xray_semantics():
    g = build_service_map(sample_traces(5, fault_every=5))
    doc = service_graph_json(g, start_ns=1_000_000_000, end_ns=2_000_000_000)
    assert doc["StartTime"] == 1.0 and doc["EndTime"] == 2.0
    by_name = {s["Name"]: s for s in doc["Services"]}
    assert doc["Services"][0]["Name"] == "client" and doc["Services"][0]["Type"] == "client"
    refs = {s["ReferenceId"] for s in doc["Services"]}
    assert refs == set(range(len(doc["Services"])))
    api = by_name["api"]
    assert api["Type"] == ORIGIN_LAMBDA and api["Root"] is True and api["Names"] == ["api"]
    assert api["SummaryStatistics"]["TotalCount"] == 5
    assert api["SummaryStatistics"]["FaultStatistics"] == {"OtherCount": 1, "TotalCount": 1}
    assert sum(h["Count"] for h in api["ResponseTimeHistogram"]) == 5
    assert api["Spanscope"]["Location"] == "us-east-1"
    edge_targets = {doc["Services"][e["ReferenceId"]]["Name"] for e in api["Edges"]}
    assert edge_targets == {"DynamoDB", "SQS"}
    for edge in api["Edges"]:
        assert edge["ReferenceId"] in refs and "EdgeType" not in edge
    (link,) = by_name["SQS"]["Edges"]
    assert link["EdgeType"] == "link" and link["ResponseTimeHistogram"] == []
    assert doc["Services"][link["ReferenceId"]]["Name"] == "worker"
    assert sum(h["Count"] for h in link["ReceivedEventAgeHistogram"]) == 5
    assert link["Spanscope"]["Asynchronous"] is True
    client_edges = {doc["Services"][e["ReferenceId"]]["Name"] for e in by_name["client"]["Edges"]}
    assert client_edges == {"api", "viewer-fn"}


def test_json_of_empty_map():
    doc = service_graph_json(build_service_map([]))
    assert doc["Services"] == []
    validate_shape(doc, _output_shape())


# --- text ---------------------------------------------------------------------------------------------


def test_text_lists_nodes_with_traffic_failures_latency_and_edges_beneath():
    text = render_map_text(build_service_map(sample_traces(5, fault_every=5)))
    nodes, edges = text.split("\nEDGES\n")
    assert "NODES" in nodes
    assert re.search(r"api \[AWS::Lambda::Function\]  \(root\)\n\s+5 req .*fault 20\.0%.*p50 100ms", nodes)
    assert "DynamoDB [AWS::DynamoDB::Table]  (inferred)" in nodes
    assert "client [client] -> api [AWS::Lambda::Function]" in edges
    assert "SQS [AWS::SQS::Queue] ~> worker [AWS::Lambda::Function]  (async link)" in edges
    assert "event age p50" in edges


def test_text_strips_terminal_escapes_from_span_text():
    hostile = "evil\x1b]0;pwned\x07\x1b[31m\u202efn"
    trace = build_trace([("root", None, 0, 10, lam(hostile, attributes={"spanscope.location": "x\x1b[2J"}))])
    g = build_service_map([trace])
    for out in (
        render_map_text(g, group_by_location=True),
        render_map_dot(g, group_by_location=True),
        render_map_mermaid(g, group_by_location=True),
    ):
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out


def test_text_groups_by_location():
    text = render_map_text(build_service_map(sample_traces()), group_by_location=True)
    sections = [line.strip() for line in text.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert sections[:5] == [
        "unplaced",
        "region eu-west-1",
        "region us-east-1",
        "edge location IAD89-C1",
        "device thing-7",
    ]


# --- DOT / Mermaid ----------------------------------------------------------------------------------------


def test_dot_is_well_formed_with_dashed_async_edges():
    dot = render_map_dot(build_service_map(sample_traces()))
    assert dot.startswith("digraph spanscope_map {") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    assert re.search(r"n\d+ -> n\d+ \[label=\"async 4 msg\", style=dashed\];", dot)
    assert 'label="client", shape=ellipse' in dot


def test_dot_and_mermaid_quote_hostile_names():
    name = 'a"b\\c];\nx -> y'
    trace = build_trace([("root", None, 0, 10, lam(name))])
    g = build_service_map([trace])
    dot = render_map_dot(g)
    assert 'label="a\\"b\\\\c]; x -> y\\n' in dot
    mermaid = render_map_mermaid(g)
    assert '"a#34;b#92;c#93;#59; x -#62; y<br/>' in mermaid


def test_dot_subgraph_clusters_per_location():
    dot = render_map_dot(build_service_map(sample_traces()), group_by_location=True)
    labels = re.findall(r"subgraph cluster_\d+ \{\n    label=\"([^\"]+)\"", dot)
    assert labels == ["region eu-west-1", "region us-east-1", "edge location IAD89-C1", "device thing-7"]


def test_mermaid_flowchart_with_subgraphs_and_async_arrows():
    mermaid = render_map_mermaid(build_service_map(sample_traces()), group_by_location=True)
    assert mermaid.startswith("flowchart LR\n")
    assert mermaid.count("subgraph ") == mermaid.count("\n  end") == 4
    assert 'subgraph g4 ["device thing-7"]' in mermaid
    assert re.search(r"n\d+ -\.->\|\"async 4 msg\"\| n\d+", mermaid)
    assert re.search(r'n\d+\(\["client"\]\)', mermaid)


def test_renderers_mark_comparison_changes():
    baseline = build_service_map(sample_traces(30))
    current_traces = [t for t in sample_traces(30, fault_every=2) if not t.spans[0].service.startswith("viewer")]
    current = build_service_map(current_traces)
    changes = compare_maps(current, baseline)
    dot = render_map_dot(current, changes=changes)
    assert "(gone)" in dot and "style=dotted" in dot and "color=red" in dot
    mermaid = render_map_mermaid(current, changes=changes)
    assert "classDef gone" in mermaid and "classDef worse" in mermaid
    assert re.search(r'n\d+ -\.->\|"gone"\| n\d+', mermaid)
    text = render_map_text(current, changes=changes)
    assert "CHANGES vs baseline" in text and "node disappeared: viewer-fn" in text
    assert "failure rate 0.0% -> 50.0%" in text


# --- location ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("us-east-1", ("region", "region us-east-1")),
        ("edge:IAD89-C1", ("edge", "edge location IAD89-C1")),
        ("outpost:op-0abc", ("outpost", "Outpost op-0abc")),
        ("device:thing-7", ("device", "device thing-7")),
        ("localzone:us-west-2-lax-1a", ("localzone", "Local Zone us-west-2-lax-1a")),
        ("wavelength:us-east-1-wl1-bos-wlz-1", ("wavelength", "Wavelength zone us-east-1-wl1-bos-wlz-1")),
        ("snowball:JID-7", ("snowball", "Snowball device JID-7")),
        ("weird:thing", ("region", "region weird:thing")),
    ],
)
def test_describe_location(value, expected):
    assert describe_location(value) == expected


def test_location_clusters_place_inferred_nodes_with_their_callers():
    g = build_service_map(sample_traces())
    clusters = location_clusters(g)
    assert clusters[None] == [CLIENT_NODE]
    assert ("DynamoDB", "AWS::DynamoDB::Table") in clusters["us-east-1"]
    assert ("viewer-fn", ORIGIN_LAMBDA_EDGE) in clusters["edge:IAD89-C1"]
    assert ("thing-7", ORIGIN_EDGE_DEVICE) in clusters["device:thing-7"]
    # the SQS queue is called from us-east-1 only
    assert ("SQS", "AWS::SQS::Queue") in clusters["us-east-1"]


def test_node_location_is_the_dominant_one():
    traces = [
        build_trace([("r", None, 0, 1, lam("api", resource={"cloud.region": region}))], trace=f"t{i}")
        for i, region in enumerate(["us-east-1", "us-east-1", "eu-west-1"])
    ]
    data = build_service_map(traces).nodes["api", ORIGIN_LAMBDA]
    assert data["location"] == "us-east-1"
    assert data["locations"] == {"us-east-1": 2, "eu-west-1": 1}


def test_json_has_per_service_and_per_edge_times_state_and_account():
    traces = sample_traces(3)
    for trace in traces:
        for span in trace.spans:
            if span.service == "api":
                span.resource["cloud.account.id"] = "123456789012"
    doc = service_graph_json(build_service_map(traces))
    validate_shape(json.loads(json.dumps(doc)), _output_shape())
    by_name = {s["Name"]: s for s in doc["Services"]}
    api, ddb, queue = by_name["api"], by_name["DynamoDB"], by_name["SQS"]
    base = BASE_NS / 1e9
    # api's segments run 0-100 ms of each trace; its DynamoDB calls 10-30 ms; the consumer 100-160 ms
    assert (api["StartTime"], api["EndTime"]) == pytest.approx((base, base + 0.1))
    assert (ddb["StartTime"], ddb["EndTime"]) == pytest.approx((base + 0.01, base + 0.03))
    assert api["State"] == "active" and api["AccountId"] == "123456789012"
    assert "AccountId" not in ddb  # no resource says which account owns it
    to_ddb = next(e for e in api["Edges"] if e["ReferenceId"] == ddb["ReferenceId"])
    assert (to_ddb["StartTime"], to_ddb["EndTime"]) == pytest.approx((base + 0.01, base + 0.03))
    (received,) = queue["Edges"]
    assert (received["StartTime"], received["EndTime"]) == pytest.approx((base + 0.1, base + 0.16))
    client = by_name["client"]
    assert client["State"] == "active" and client["StartTime"] == pytest.approx(base)
    assert all(s["StartTime"] <= s["EndTime"] for s in doc["Services"])


def test_every_format_groups_every_placement_kind():
    places = ["us-east-1", "localzone:us-west-2-lax-1a", "wavelength:us-east-1-wl1-bos-wlz-1", "outpost:op-1",
              "snowball:JID-7", "edge:IAD89-C1", "device:thing-7"]  # fmt: skip
    traces = [
        build_trace([("r", None, 0, 1, lam(f"svc{i}", resource={"spanscope.location": where}))], trace=f"t{i}")
        for i, where in enumerate(reversed(places))
    ]
    graph = build_service_map(traces)
    assert list(location_clusters(graph)) == [None, *places]  # regions first, devices last
    labels = [describe_location(where)[1] for where in places]
    text = render_map_text(graph, group_by_location=True)
    assert [line.strip() for line in text.splitlines() if line.strip() in labels] == labels
    dot = render_map_dot(graph, group_by_location=True)
    assert dot.count("subgraph cluster_") == len(places) and all(label in dot for label in labels)
    mermaid = render_map_mermaid(graph, group_by_location=True)
    assert mermaid.count("subgraph g") == len(places)
    doc = service_graph_json(graph)
    kinds = {s["Name"]: (s["Spanscope"]["Placement"], s["Spanscope"]["PlacementScope"]) for s in doc["Services"]}
    assert kinds["svc6"] == ("region", "region") and kinds["svc0"] == ("device", "edge")
    assert kinds["svc4"] == ("wavelength", "edge") and kinds["client"] == (None, None)
