"""The TUI's service map groups nodes by placement and draws a queue between producer and consumer."""

from __future__ import annotations

from pathlib import Path

from spanscope.collectors.conventions import ORIGIN_LAMBDA
from spanscope.collectors.model import Kind
from spanscope.collectors.store import open_store
from spanscope.tui.screens.service_map import ServiceMapScreen
from spanscope.tui.widgets.nav_table import NavTable

from tests.builders import build_spans
from tests.tui.conftest import SIZE, make_app, settle
from tests.tui.test_app import table_text

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue"


def placed_store(path: Path) -> Path:
    region = {"spanscope.location": "us-east-1", "cloud.region": "us-east-1"}
    wavelength = {"spanscope.location": "wavelength:us-east-1-wl1-bos-wlz-1"}
    send = {"rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "SendMessage", "aws.sqs.queue_url": QUEUE_URL}
    spans = []
    for i in range(3):
        spans += build_spans(
            [
                ("game", None, 0, 40, {"service": "game-server", "kind": Kind.SERVER, "resource": wavelength}),
                ("call", "game", 5, 35, {"service": "game-server", "kind": Kind.CLIENT}),
                ("api", "call", 10, 30, {"service": "api", "origin": ORIGIN_LAMBDA, "kind": Kind.SERVER,
                                         "resource": region}),
                (f"send{i}", "api", 12, 14, {"service": "api", "kind": Kind.PRODUCER, "attributes": send}),
            ],
            trace=f"p{i}",
        )  # fmt: skip
        spans += build_spans(
            [("work", None, 50, 60, {"service": "worker", "origin": ORIGIN_LAMBDA, "kind": Kind.CONSUMER,
                                     "resource": region, "links": [(f"p{i}", f"send{i}")]})],
            trace=f"c{i}",
        )  # fmt: skip
    with open_store(path) as store:
        store.write_spans(spans)
    return path


async def test_map_screen_groups_nodes_by_placement_and_shows_the_queue(tmp_path: Path) -> None:
    app = make_app(placed_store(tmp_path / "placed.db"), start="map")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ServiceMapScreen)
        nodes = table_text(screen.query_one("#map-nodes", NavTable))
        names = [row[0] for row in nodes]
        region = names.index("▾ region us-east-1")
        zone = names.index("▾ Wavelength zone us-east-1-wl1-bos-wlz-1")
        assert region < names.index("● api") < zone < names.index("● game-server")
        assert region < names.index("● orders-queue") < zone  # the queue sits with its callers
        assert screen.node_keys[region] is None
        # a heading is not a node: Enter on it stays on the map
        table = screen.query_one("#map-nodes", NavTable)
        table.focus()
        table.move_cursor(row=region)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ServiceMapScreen)
        edges = table_text(screen.query_one("#map-edges", NavTable))
        pairs = {(row[0], row[1]): row[-1] for row in edges}
        assert pairs[("api", "→ orders-queue")] == ""
        assert pairs[("orders-queue", "→ worker")] == "link"
        assert ("api", "→ worker") not in pairs
