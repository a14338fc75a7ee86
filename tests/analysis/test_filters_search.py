"""Searching any attribute: attribute.KEY and the annotation fallback on public Jaeger data, the store's
text pushdown (a superset of the matches, never fewer), and saved groups through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spanscope.analysis.filters import compile_filter
from spanscope.analysis.filters.grammar import parse_filter
from spanscope.analysis.filters.pushdown import required_text
from spanscope.cli.main import main
from spanscope.collectors.errors import FilterSyntaxError
from spanscope.collectors.groups import load_groups, save_group
from spanscope.collectors.importers import import_files
from spanscope.collectors.model import Kind, Status
from spanscope.collectors.store import SCHEMA_VERSION, open_store

from tests.builders import build_spans

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GENAI = FIXTURES / "jaeger" / "jaeger-ui-genai-trace.json"
GENAI_ID = "4a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture
def genai_db(tmp_path: Path) -> Path:
    db = tmp_path / "spans.db"
    with open_store(db) as store:
        import_files([GENAI, FIXTURES / "jaeger" / "jaeger-ui_01.json"], store)
    return db


def traces_json(db: Path, expression: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["traces", "--db", str(db), "--json", "--filter", expression]) == 0
    return [t["trace_id"] for t in json.loads(capsys.readouterr().out)]


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ('annotation.http.route = "/api/graphql"', True),  # the example: Jaeger tags, no annotations
        ('attribute.http.route = "/api/graphql"', True),
        ('attribute.http.route = "/api/rest"', False),
        ('attribute.gen_ai.agent.name = "triage-agent" AND fault', False),  # the entry span is ok
        ('service("k8s-api") { fault AND attribute.http.route ENDSWITH "/pods" }', True),
        ("attribute.http.response.status_code >= 500", True),
        ('attribute[gen_ai.tool.name] = "search_traces"', True),
        ('attribute.service.name = "coding-agent"', True),  # a resource attribute
        ('rootcause.fault.service { name = "k8s-api" }', True),
        ('rootcause.fault.entity { name = "GET /api/v1/pods" AND last }', True),
    ],
)
def test_attribute_search_on_the_jaeger_genai_trace(genai_db, capsys, expression, found):
    assert (GENAI_ID in traces_json(genai_db, expression, capsys)) is found


def test_traces_filter_says_how_many_traces_matched(genai_db, capsys):
    assert main(["traces", "--db", str(genai_db), "--filter", 'annotation.http.route = "/api/graphql"']) == 0
    out = capsys.readouterr().out
    assert "1-4a1b2c3d-4e5f60718293a4b5c6d7e8f9" in out
    assert out.endswith("1 of 2 traces in the window matched the filter\n")


def test_pushdown_needles_are_required_values_only():
    node = parse_filter(
        'attribute.http.route = "/api/graphql" AND service("a") { annotation.t CONTAINS "gold" } '
        'AND (user = "bob" OR fault) AND !attribute.x = "never" AND attribute.y != "nope" AND attribute.q = "a\\"b"'
    )
    assert required_text(node) == ("/api/graphql", "gold")


def test_store_text_search_is_a_superset_of_the_matches(genai_db):
    """Every trace the predicate accepts is among the store's candidates; the others are skipped."""
    expressions = [
        'attribute.http.route = "/api/graphql"',
        'attribute.http.route CONTAINS "/api/v1/po"',
        'attribute.service.name = "coding-agent"',
        'attribute.http.route BEGINSWITH "/mcp/"',
    ]
    with open_store(genai_db, readonly=True) as store:
        every = list(store.iter_traces())
        assert len(every) >= 2
        for expression in expressions:
            predicate = compile_filter(expression)
            matches = {t.trace_id for t in every if predicate(t)}
            needles = required_text(parse_filter(expression))
            assert needles, expression
            candidates = store.trace_ids_containing(needles)
            assert matches <= candidates, expression
            assert matches == {GENAI_ID}
            assert len(candidates) < len(every), expression  # the other fixture trace is skipped
        assert store.trace_ids_containing(["no-such-value-anywhere"]) == set()
        assert len(store.trace_ids_containing([])) == len(every)


def test_resource_values_are_found_by_the_text_search(tmp_path):
    spans = build_spans(
        [("root", None, 0, 10, {"service": "api", "resource": {"deployment.environment": "canary-7"}})], trace="r"
    )
    with open_store(tmp_path / "s.db") as store:
        store.write_spans(spans)
        assert len(store.trace_ids_containing(["canary-7"])) == 1
        assert compile_filter('attribute.deployment.environment = "canary-7"')(next(store.iter_traces()))


# --- groups ----------------------------------------------------------------------------------------------


def _two_traces(db: Path) -> None:
    rows_slow = [("root", None, 0, 6000, {"service": "api", "kind": Kind.SERVER})]
    rows_fault = [("root", None, 0, 100, {"service": "api", "kind": Kind.SERVER, "status": Status.FAULT})]
    with open_store(db) as store:
        store.write_spans(build_spans(rows_slow, trace="slow") + build_spans(rows_fault, trace="fault"))


def test_groups_add_list_use_remove(tmp_path, capsys):
    db = tmp_path / "spans.db"
    _two_traces(db)
    assert main(["groups", "add", "slow", "responsetime > 5", "--db", str(db)]) == 0
    assert main(["groups", "add", "bad", 'fault OR group.name = "slow"', "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["groups", "list", "--json", "--db", str(db)]) == 0
    listed = json.loads(capsys.readouterr().out)["Groups"]
    assert [(g["GroupName"], g["FilterExpression"]) for g in listed] == [
        ("bad", 'fault OR group.name = "slow"'),
        ("slow", "responsetime > 5"),
    ]
    assert listed[1]["GroupARN"].endswith("group/slow")

    assert len(traces_json(db, 'group.name = "slow"', capsys)) == 1
    assert len(traces_json(db, 'group.name = "bad"', capsys)) == 2  # a group may use another
    assert len(traces_json(db, 'group.name != "slow"', capsys)) == 1
    assert len(traces_json(db, f'group.arn = "{listed[1]["GroupARN"]}"', capsys)) == 1

    # as a map filter: only the slow trace's node
    assert main(["map", "--db", str(db), "--format", "json", "--group", "slow"]) == 0
    services = json.loads(capsys.readouterr().out)["Services"]
    assert [s["SummaryStatistics"]["TotalCount"] for s in services if s["Name"] == "api"] == [1]

    assert main(["groups", "remove", "bad", "--db", str(db)]) == 0
    assert main(["groups", "remove", "bad", "--db", str(db)]) == 2
    assert "no group named 'bad'" in capsys.readouterr().err
    assert main(["traces", "--db", str(db), "--filter", 'group.name = "bad"']) == 2
    assert "no group named 'bad' (groups: slow)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x", "responsetime >"], "expected a number"),
        (["add", "x", 'group.name = "x"'], "group 'x' refers to itself"),
        (["add", "x", 'group.name = "nope"'], "no group named 'nope'"),
        (["add", "has space", "ok"], "group name 'has space'"),
        (["add", "slow", "ok"], "exists already"),
    ],
)
def test_groups_reject_bad_input_with_one_line(tmp_path, capsys, args, message):
    db = tmp_path / "spans.db"
    _two_traces(db)
    assert main(["groups", "add", "slow", "responsetime > 5", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["groups", *args, "--db", str(db)]) != 0
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_groups_table_is_a_migration_of_an_older_store(tmp_path):
    import sqlite3

    db = tmp_path / "old.db"
    _two_traces(db)
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE groups")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with open_store(db, readonly=True) as store:
        assert load_groups(store) == {}  # read-only: no table yet, no groups
    with open_store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        save_group(store, "g", "ok")
        assert load_groups(store) == {"g": "ok"}
        assert store.trace_count() == 2


def test_group_name_without_groups_says_where_groups_come_from():
    with pytest.raises(FilterSyntaxError, match=r"needs the store's saved groups \(spanscope groups add"):
        compile_filter('group.name = "slow"')


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ('rootcause.responsetime.service { name = "Scorekeep" AND coverage > 0.9 }', True),
        ('rootcause.responsetime.service { type = "AWS::ElasticBeanstalk::Environment" AND root }', True),
        ("rootcause.responsetime.service { coverage > 0.99 }", False),
        ("rootcause.fault.service { root }", False),
        ('service("DynamoDB") { inferred } AND type = "AWS::ElasticBeanstalk::Environment"', True),
    ],
)
def test_root_causes_on_the_aws_cli_xray_sample(tmp_path, capsys, expression, found):
    db = tmp_path / "spans.db"
    with open_store(db) as store:
        import_files([FIXTURES / "xray_import" / "aws-cli-batch-get-traces.json"], store)
    assert bool(traces_json(db, expression, capsys)) is found
