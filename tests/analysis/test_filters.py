"""X-Ray filter expressions: a table of every keyword and operator, and of syntax error messages."""

from __future__ import annotations

import pytest
from spanscope.analysis.filters import compile_filter, parse_filter
from spanscope.collectors.errors import FilterSyntaxError, SpanscopeError
from spanscope.collectors.model import Kind, SpanException, Status

from tests.builders import build_trace

ROOT_ATTRS = {
    "http.request.method": "POST",
    "url.full": "https://api.example.com/v2/orders",
    "http.response.status_code": 200,
    "user_agent.original": "curl/8.4.0",
    "client.address": "203.0.113.7",
}


ROOT_RESOURCE = {
    "cloud.availability_zone": "us-east-1a",
    "host.id": "i-0abc1234",
    "cloud.resource_id": "arn:aws:lambda:us-east-1:123456789012:function:api",
    "service.version": "1.2.0",
}


def sample(*, root_status=Status.OK, partial=False, status_code=200):
    attrs = dict(ROOT_ATTRS, **{"http.response.status_code": status_code})
    trace = build_trace(
        [
            (
                "root",
                None,
                0,
                3000,
                {
                    "service": "api",
                    "kind": Kind.SERVER,
                    "status": root_status,
                    "attributes": attrs,
                    "origin": "AWS::Lambda::Function",
                    "annotations": {"account": "12345", "tier": 2, "beta": True},
                    "resource": ROOT_RESOURCE,
                },
            ),
            (
                "orders",
                "root",
                100,
                2500,
                {
                    "service": "orders",
                    "kind": Kind.SERVER,
                    "origin": "AWS::ECS::Container",
                    "attributes": {"enduser.id": "alice"},
                },
            ),
            (
                "ddb",
                "orders",
                200,
                2400,
                {
                    "service": "orders",
                    "kind": Kind.CLIENT,
                    "status": Status.FAULT,
                    "namespace": "aws",
                    "remote_service": "DynamoDB",
                    "operation": "DynamoDB",
                },
            ),
            (
                "cache",
                "root",
                2600,
                2700,
                {"service": "cache", "kind": Kind.SERVER, "in_progress": partial, "status": Status.THROTTLE},
            ),
        ]
    )
    ddb = next(s for s in trace.spans if s.remote_service == "DynamoDB")
    ddb.exceptions = [SpanException("ProvisionedThroughputExceededException", "Rate exceeded: capacity", remote=True)]
    return trace


T = sample()

CASES = [
    # boolean keywords, bare, negated and with = / !=
    ("ok", True),
    ("!ok", False),
    ("ok = true", True),
    ("ok = false", False),
    ("ok != true", False),
    ("error", False),
    ("error = false", True),
    ("fault", False),
    ("throttle", False),
    ("partial", False),
    ("!partial", True),
    ("error != true", True),
    # number keywords with every operator (seconds; http.status as a number)
    ("responsetime = 3", True),
    ("responsetime != 3", False),
    ("responsetime < 3", False),
    ("responsetime <= 3", True),
    ("responsetime > 2.5", True),
    ("responsetime >= 3.5", False),
    ("duration >= 3", True),
    ("duration < 1", False),
    ("http.status = 200", True),
    ("http.status >= 500", False),
    # string keywords with every operator
    ('http.url = "https://api.example.com/v2/orders"', True),
    ('http.url != "x"', True),
    ('http.url CONTAINS "/v2/"', True),
    ('http.url BEGINSWITH "https://api."', True),
    ('http.url ENDSWITH "/orders"', True),
    ('http.url ENDSWITH "/users"', False),
    ('http.method = "POST"', True),
    ('http.method = "GET"', False),
    ('http.useragent CONTAINS "curl"', True),
    ('http.clientip = "203.0.113.7"', True),
    ('user = "alice"', True),
    ('user = "bob"', False),
    ('user BEGINSWITH "al"', True),
    # annotations: string, number, boolean, presence
    ('annotation.account = "12345"', True),
    ('annotation.account != "12345"', False),
    ('annotation.account CONTAINS "234"', True),
    ("annotation.tier = 2", True),
    ("annotation.tier > 2", False),
    ("annotation.tier >= 2", True),
    ("annotation.beta = true", True),
    ("annotation.beta = false", False),
    ("annotation.account", True),
    ("annotation.missing", False),
    ("!annotation.missing", True),
    ('annotation[account] = "12345"', True),
    # combinators and precedence
    ("ok AND responsetime > 1", True),
    ("fault OR responsetime > 1", True),
    ("fault OR error", False),
    ("ok !partial duration < 4", True),
    ("!(ok AND fault)", True),
    ("fault AND error OR ok", True),
    ("fault AND (error OR ok)", False),
    ("ok and responsetime > 1", True),
    # service(), edge(), id()
    ('service("orders")', True),
    ('service("nope")', False),
    ('!service("nope")', True),
    ('service("orders") { fault }', False),
    ('service("DynamoDB") { fault }', True),
    ('service("cache") { throttle }', True),
    ('service("cache") { error }', True),
    ("service() { fault }", True),
    ("service() { responsetime > 2.9 }", True),
    ('service("orders") { responsetime > 2 AND user = "alice" }', True),
    ('edge("orders", "DynamoDB") { fault }', True),
    ('edge("api", "orders") { fault }', False),
    ('edge("api", "orders")', True),
    ('edge("orders", "api")', False),
    ('service(id(name: "api", type: "AWS::Lambda::Function"))', True),
    ('service(id(name: "api", type: "AWS::EC2::Instance"))', False),
    ('id(name: "DynamoDB", type: "AWS::DynamoDB::Table")', True),
    ('edge(id(name: "orders"), id(name: "DynamoDB")) { fault }', True),
    ('edge(id(name: "orders", type: "AWS::ECS::Container"), "DynamoDB") { fault }', True),
    ('edge(id(name: "orders", type: "AWS::EC2::Instance"), "DynamoDB")', False),
    ('edge(id(name: "api", type: "AWS::Lambda::Function"), id(name: "orders", type: "AWS::ECS::Container"))', True),
    ('service("api.example.com") { fault = true OR responsetime > 2.5 } AND annotation.account = "12345"', False),
    # attribute.KEY: any span or resource attribute, keys with dots, typed like annotations
    ('attribute.enduser.id = "alice"', True),
    ('attribute.http.request.method = "POST"', True),
    ('attribute[client.address] BEGINSWITH "203."', True),
    ("attribute.http.response.status_code >= 200", True),
    ("attribute.http.response.status_code < 200", False),
    ('attribute.service.version = "1.2.0"', True),
    ('attribute.cloud.availability_zone ENDSWITH "1a"', True),
    ("attribute.url.full", True),
    ("attribute.nope", False),
    ('attribute.enduser.id != "alice"', False),
    ('service("orders") { attribute.enduser.id = "alice" }', True),
    ('service("api") { attribute.enduser.id = "alice" }', False),
    # annotation.KEY falls back to attributes on spans without annotations (orders has none, api has some)
    ('annotation.enduser.id = "alice"', True),
    ('annotation.http.request.method = "POST"', False),
    # name / type / message / availabilityzone / instance.id / resource.arn
    ('name = "orders"', True),
    ('name = "DynamoDB"', True),
    ('name = "nope"', False),
    ('name = "ProvisionedThroughputExceededException"', True),
    ('type = "AWS::ECS::Container"', True),
    ('service("orders") { type = "AWS::ECS::Container" }', True),
    ('message CONTAINS "capacity"', True),
    ('service("orders") { message CONTAINS "capacity" }', False),
    ('availabilityzone = "us-east-1a"', True),
    ('availabilityzone = "us-east-1b"', False),
    ('instance.id = "i-0abc1234"', True),
    ('resource.arn ENDSWITH ":function:api"', True),
    # node keywords
    ("root", True),
    ("inferred", True),
    ("remote", True),
    ('service("orders") { remote }', False),
    ('service("DynamoDB") { remote }', True),
    ('service("api") { root }', True),
    ('service("orders") { root }', False),
    ('service("DynamoDB") { inferred }', True),
    ('service("orders") { inferred }', False),
    # root causes: the fault starts at DynamoDB (inferred), the throttle at cache
    ('rootcause.fault.service { name = "DynamoDB" AND inferred AND type = "AWS::DynamoDB" }', True),
    ('rootcause.fault.service { name = "orders" }', False),
    ('rootcause.throttle.service { name = "cache" AND !root }', True),
    ('rootcause.error.service { name = "cache" }', True),
    ('rootcause.error.service { name = "DynamoDB" }', False),
    ('rootcause.throttle.entity { name = "cache" AND first AND last AND index = 0 }', True),
    ("rootcause.fault.entity { index >= 1 }", False),
    ("rootcause.fault.entity { remote }", True),
    ('rootcause.fault.message { message CONTAINS "capacity" }', True),
    ('rootcause.throttle.message { message CONTAINS "capacity" }', False),
    ('rootcause.responsetime.service { name = "DynamoDB" AND coverage > 0.7 }', True),
    ("rootcause.responsetime.entity { coverage > 0.8 }", False),
    ('fault OR rootcause.fault.service { name = "DynamoDB" }', True),
]


@pytest.mark.parametrize(("expr", "expected"), CASES)
def test_keyword_and_operator_table(expr, expected):
    assert compile_filter(expr)(T) is expected


def test_every_keyword_and_operator_is_in_the_table():
    from spanscope.analysis.filters.grammar import (
        BOOLEAN_KEYWORDS,
        NUMBER_KEYWORDS,
        NUMBER_OPS,
        STRING_KEYWORDS,
        STRING_OPS,
    )

    text = " ".join(e for e, _ in CASES) + " ".join(e for e, _c, _x in ERRORS)
    for word in BOOLEAN_KEYWORDS | NUMBER_KEYWORDS | STRING_KEYWORDS:
        assert word in text
    for op in (*NUMBER_OPS, *STRING_OPS):
        assert f" {op} " in text


def test_trace_level_status_comes_from_the_entry_span():
    assert compile_filter("fault")(sample(root_status=Status.FAULT))
    assert compile_filter("error AND throttle")(sample(root_status=Status.THROTTLE))
    assert compile_filter("partial")(sample(partial=True))
    assert compile_filter("http.status = 503")(sample(status_code=503))


ERRORS = [
    ("", 1, "a filter expression"),
    ("responsetime >", 15, "a number after responsetime >"),
    ("responsetime", 13, "an operator after responsetime"),
    ('responsetime > "5"', 16, "a number after responsetime >"),
    ('http.url > "x"', 10, "a string operator"),
    ("http.url = 5", 12, "a quoted string after http.url ="),
    ("fault = maybe", 9, "true or false after fault"),
    ("fault < true", 7, "'=' or '!=' after fault"),
    ("latency > 5", 1, "a keyword ("),
    ("ok AND", 7, "a keyword, '(', '!'"),
    ("(ok", 4, "')' to close the '(' at column 1"),
    ("ok)", 3, "end of expression (unbalanced ')')"),
    ('service("a") { ok', 18, "'}' to close the '{' at column 14"),
    ("service(a)", 9, "a quoted service name or id("),
    ('edge("a")', 9, "',' between the two services of edge("),
    ('id(nam: "x")', 4, "'name:' or 'type:' in id("),
    ('id(name "x")', 9, "':' after name"),
    ('http.url = "open', 12, "a closing '\"'"),
    ("ok # x", 4, "a keyword, '(', '!' or a value"),
    ("annotation.x >= true", 14, "'=' or '!=' before true/false"),
    ('annotation.x < "s"', 14, "a string operator"),
    ("annotation.x = ", 16, "a value after annotation.x ="),
    ("((((" * 20 + "ok" + "))))" * 20, 41, "at most 40 levels of nesting"),
    ("attribute. = 1", 11, "a key after 'attribute.'"),
    ('attribute.x < "s"', 13, "a string operator"),
    ("index = 0", 1, "index inside a root-cause block"),
    ("coverage > 0.5", 1, "coverage inside a root-cause block"),
    ("rootcause.fault.nodes { ok }", 1, "rootcause.{fault|error|throttle|responsetime}.{service|entity|message}"),
    ("rootcause.fault.service ok", 25, "'{' after rootcause.fault.service"),
    ('group.name CONTAINS "x"', 12, "'=' or '!=' after group.name"),
    ("name = 5", 8, "a quoted string after name ="),
    ('group.arn = "x"', 1, "a group ARN starting with arn:spanscope:xray:local:group/"),
]


@pytest.mark.parametrize(("expr", "column", "expected"), ERRORS)
def test_syntax_errors_name_column_and_expectation(expr, column, expected):
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(expr)
    err = info.value
    assert isinstance(err, SpanscopeError)
    assert err.column == column, str(err)
    assert f"column {column}: expected {expected}" in str(err)
    assert err.expression == expr


def test_python_is_never_evaluated():
    assert type(parse_filter("ok OR fault")).__name__ == "Or"
    with pytest.raises(FilterSyntaxError, match="column 1: expected a keyword"):
        compile_filter('__import__("os")')
