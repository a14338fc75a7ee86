"""edge(id(name, type), ...) compares the caller's node type (its entry span's origin), not its client span's."""

from __future__ import annotations

from spanscope.analysis.filters import compile_filter
from spanscope.collectors.model import Kind

from tests.builders import build_trace


def test_edge_source_type_is_the_callers_origin() -> None:
    trace = build_trace(
        [
            ("entry", None, 0, 100, {"service": "orders", "kind": Kind.SERVER, "origin": "AWS::Lambda::Function"}),
            ("call", "entry", 10, 90, {"service": "orders", "kind": Kind.CLIENT}),
            ("pay", "call", 20, 80, {"service": "payments", "kind": Kind.SERVER, "origin": "AWS::EC2::Instance"}),
        ]
    )
    typed = 'edge(id(name: "orders", type: "AWS::Lambda::Function"), id(name: "payments", type: "AWS::EC2::Instance"))'
    assert compile_filter(typed)(trace)
    assert not compile_filter('edge(id(name: "orders", type: "AWS::EC2::Instance"), "payments")')(trace)
    assert compile_filter('edge("orders", "payments")')(trace)
