"""`spanscope show`'s text and JSON stay byte for byte what they were: a seeded trace with every kind of row
(deep chains past the indentation limit, every status, in-progress spans, hostile names, a missing parent, a
duplicated record, durations in every unit, critical stretches, failure roles) against files in ``golden/``.

Regenerate only on a deliberate change of the output: ``SPANSCOPE_UPDATE_GOLDEN=1 pytest tests/render``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from spanscope.analysis import critical_path, failure_roles
from spanscope.cli.main import main
from spanscope.collectors.model import Kind, Span, Status, Trace
from spanscope.collectors.store import open_store
from spanscope.render.waterfall_text import render_waterfall

from tests.builders import BASE_NS, trace_id_for

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("SPANSCOPE_UPDATE_GOLDEN"))
STATUSES = (Status.OK, Status.OK, Status.OK, Status.ERROR, Status.FAULT, Status.THROTTLE)
NAMES = ("GET /items", "DynamoDB.PutItem", "evil\x1b[31m[b]x[/b]\u202e", "a-very-long-operation-name-" * 3, "step")


def seeded_spans(n: int = 150, seed: int = 7) -> list[Span]:
    """A tree of ``n`` spans drawn from ``seed``: a 30-deep chain, a bushy part, odd records."""
    rng = random.Random(seed)
    tid = trace_id_for("golden")
    spans: list[Span] = []
    for i in range(n):
        if i == 0:
            parent, start = None, BASE_NS
        elif i < 30:
            parent, start = i - 1, spans[i - 1].start_ns + rng.randrange(0, 50_000)
        else:
            parent = rng.randrange(i)
            start = spans[parent].start_ns + rng.randrange(0, 2_000_000_000)
        duration = rng.choice((0, 1, 999, 850_000, 12_340_000, 999_950_000, 4_567_000_000, 185_000_000_000))
        duration += rng.randrange(0, 1000)
        spans.append(
            Span(
                tid,
                f"{i + 1:016x}",
                f"{parent + 1:016x}" if parent is not None else None,
                f"svc-{rng.randrange(6)}",
                rng.choice(NAMES),
                kind=rng.choice((Kind.SERVER, Kind.CLIENT, Kind.INTERNAL)),
                start_ns=start,
                end_ns=start + duration,
                status=rng.choice(STATUSES),
                in_progress=i % 97 == 5,
                attributes={"i": i},
            )
        )
    spans.append(Span(tid, "ffffffffffffff01", "00000000deadbeef", "orphan", "lost parent", start_ns=BASE_NS + 5))
    spans.append(Span(tid, spans[40].span_id, spans[40].parent_id, "dup", "again", start_ns=BASE_NS, end_ns=BASE_NS))
    return spans


def sequential_spans() -> list[Span]:
    """Children one after another under each parent: the critical path covers only stretches of the parents."""
    tid = trace_id_for("golden-sequential")
    spans = [Span(tid, f"{1:016x}", None, "api", "root", start_ns=BASE_NS, end_ns=BASE_NS + 100_000_000)]
    for i in range(2, 40):
        parent = (i - 2) // 3 + 1
        begin = BASE_NS + (i % 3) * 30_000_000 + i * 100_000
        status = Status.FAULT if i % 11 == 0 else Status.OK
        spans.append(
            Span(
                tid,
                f"{i:016x}",
                f"{parent:016x}",
                f"svc-{i % 4}",
                f"op {i}",
                start_ns=begin,
                end_ns=begin + 25_000_000 - i * 500_000,
                status=status,
            )
        )
    return spans


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: regenerate with SPANSCOPE_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [None, 12, 40])
def test_waterfall_text_is_unchanged(width: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "190")
    monkeypatch.setenv("LINES", "40")
    spans = seeded_spans()
    trace = Trace(spans[0].trace_id, spans)
    text = render_waterfall(trace, critical_path(trace), failure_roles(trace), width=width)
    _check(f"waterfall_w{width}.txt", text)
    spans = sequential_spans()
    trace = Trace(spans[0].trace_id, spans)
    text = render_waterfall(trace, critical_path(trace), failure_roles(trace), width=width)
    _check(f"waterfall_sequential_w{width}.txt", text)


@pytest.mark.parametrize("extra", [(), ("--json",), ("--width", "30"), ("--no-adjust", "--width", "20")])
def test_show_output_is_unchanged(
    extra: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "150")
    monkeypatch.setenv("LINES", "40")
    spans = seeded_spans()
    with open_store(tmp_path / "s.db") as store:
        store.write_spans(spans)
    assert main(["show", spans[0].trace_id, "--db", str(tmp_path / "s.db"), *extra]) == 0
    _check("show" + "".join(e.strip("-").replace("-", "_") for e in extra) + ".txt", capsys.readouterr().out)
