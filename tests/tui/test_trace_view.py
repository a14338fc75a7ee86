"""Seeing a trace: names on deep rows, a name column that follows the width and scrolls, in-trace search of
attributes and messages, Batch array indexes."""

from __future__ import annotations

import json
from pathlib import Path

from spanscope.collectors.conventions import BATCH_ARRAY_INDEX
from spanscope.collectors.importers import import_files
from spanscope.collectors.model import Kind, Span, Status
from spanscope.collectors.store import open_store
from spanscope.tui.screens.trace import TraceScreen
from spanscope.tui.widgets.waterfall import Waterfall

from tests.tui.conftest import SIZE, make_app, settle

ZIPKIN_TRACE = "5f1e0a7b9c3d2e41"  # 64-bit, as Zipkin and Jaeger clients send
T0_US = 1_795_255_200_000_000


def zipkin_deep_trace(path: Path, *, spans: int = 953, depth: int = 38) -> Path:
    """A Zipkin v2 file: one chain ``depth`` deep from the root, the other spans fanned out along it."""
    doc = []
    for i in range(spans):
        level = min(i, depth)  # spans 0..depth form the chain, then hang off chain members
        parent = None if i == 0 else (i - 1 if i <= depth else (i % (depth - 1)) + 1)
        doc.append(
            {
                "traceId": ZIPKIN_TRACE,
                "id": f"{i + 1:016x}",
                **({"parentId": f"{parent + 1:016x}"} if parent is not None else {}),
                "name": f"operation-{i}-at-level-{level}",
                "timestamp": T0_US + i * 10,
                "duration": 10_000 - i,
                "localEndpoint": {"serviceName": f"svc{i % 7}"},
                "kind": "SERVER" if i == 0 else "CLIENT",
            }
        )
    path.write_text(json.dumps(doc))
    return path


def line_text(waterfall: Waterfall, y: int) -> str:
    return "".join(segment.text for segment in waterfall.render_line(y))


async def open_only_trace(app, pilot) -> Waterfall:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, TraceScreen)
    return app.screen.query_one(Waterfall)


async def test_deep_zipkin_trace_shows_names_on_deep_rows_and_scrolls(tmp_path: Path) -> None:
    db = tmp_path / "deep.db"
    with open_store(db) as store:
        report = import_files([zipkin_deep_trace(tmp_path / "deep.json")], store)
    assert report.spans == 953
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        waterfall = await open_only_trace(app, pilot)
        rows = waterfall.rows
        assert rows is not None and max(rows.depth) == 38 and len(waterfall.shown_rows) == 953
        deepest = rows.depth.index(38)
        waterfall.cursor = deepest
        await pilot.pause()
        y = deepest - round(waterfall.scroll_offset.y)
        text = line_text(waterfall, y)
        assert "38│" in text and "operation-38-at-level-" in text, text
        names = waterfall.name_column()
        assert names is not None
        narrow = names.width

        # hide the detail panel: the waterfall widens and so does its name column
        await pilot.press("d")
        await pilot.pause()
        wider = waterfall.name_column()
        assert wider is not None and wider.width > narrow
        assert "operation-38-at-level-38" in line_text(waterfall, y)

        # the name column scrolls horizontally, the bars stay
        await pilot.press("d")
        await pilot.pause()
        before = line_text(waterfall, y)
        await pilot.press("L", "L")
        assert waterfall.name_offset > 0  # as far as the widest name needs, no further
        await pilot.press("L")
        assert waterfall.name_offset == (names.longest(rows) - (names.width - 2))
        after = line_text(waterfall, y)
        assert after != before and after[-30:] == before[-30:]
        await pilot.press("H", "H", "H")
        assert waterfall.name_offset == 0 and line_text(waterfall, y) == before


SEARCH_TRACE = "6b016ba0" + "5e" * 12


def search_spans() -> list[Span]:
    t = SEARCH_TRACE
    base = 1_795_255_200_000_000_000
    return [
        Span(t, "1" * 16, None, "api", "POST /graphql", Kind.SERVER, base, base + 900_000_000),
        Span(
            t,
            "2" * 16,
            "1" * 16,
            "api",
            "resolve",
            Kind.INTERNAL,
            base + 1_000_000,
            base + 800_000_000,
            status=Status.FAULT,
            status_message="upstream connect error: reset before headers",
            attributes={"http.route": "/api/graphql", "retry.count": 3},
        ),
        Span(
            t,
            "3" * 16,
            "1" * 16,
            "batch",
            "array job",
            Kind.INTERNAL,
            base + 2_000_000,
            base + 100_000_000,
            resource={"deployment.environment": "staging"},
        ),
        *(
            Span(
                t,
                f"{4 + i:016x}",
                "3" * 16,
                "batch",
                "process shard",
                Kind.INTERNAL,
                base + 3_000_000,
                base + 50_000_000,
                attributes={BATCH_ARRAY_INDEX: i},
            )
            for i in range(3)
        ),
    ]


async def test_in_trace_search_reaches_attribute_keys_values_and_status_messages(tmp_path: Path) -> None:
    db = tmp_path / "search.db"
    with open_store(db) as store:
        store.write_spans(search_spans())
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        waterfall = await open_only_trace(app, pilot)
        rows = waterfall.rows
        assert rows is not None
        spans = rows.trace.spans

        async def search(query: str) -> list[str]:
            await pilot.press("slash", "ctrl+u", *query, "enter")
            await pilot.pause()
            return [spans[n].span_id for n in waterfall.matches]

        assert await search("reset before headers") == ["2" * 16]  # the status message
        assert await search("http.route") == ["2" * 16]  # an attribute key
        assert await search("/API/GraphQL") == ["2" * 16]  # an attribute value, any case
        assert await search("retry.count=3") == ["2" * 16]  # key=value, a number
        assert await search("retry.count=4") == []
        assert await search("staging") == ["3" * 16]  # a resource attribute
        assert await search("array 1") == [f"{5:016x}"]  # the Batch array child, by the index in its label

        # Batch array children are named with their index
        labels = [rows.labels[n] for n in rows.order]
        assert [lb for lb in labels if "shard" in lb] == [
            "batch: process shard [array 0]",
            "batch: process shard [array 1]",
            "batch: process shard [array 2]",
        ]
