"""The trace flame graph (icicle): one line per tree depth, each span a box as wide as its share of the trace's time.

The root is on top and children hang under their parent; spans on the critical path are drawn in the
critical style with a ``*`` before their name, the span under the waterfall's cursor reversed. Like the
waterfall it is a virtual (Line API) view over ``render.waterfall_rows``: a line is painted only when
on screen. Clicking a box posts ``SpanClicked``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from spanscope.collectors.model import Status
from spanscope.render.waterfall_rows import WaterfallRows
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

EMPTY = -1


class FlameGraph(ScrollView):
    """Icicle view of a trace: depth down, time across; the critical path marked."""

    COMPONENT_CLASSES = {"flame--box", "flame--critical", "flame--fault", "flame--current"}

    @dataclass
    class SpanClicked(Message):
        """A span's box was clicked (``node`` is its position in the trace's spans)."""

        flame_graph: FlameGraph
        node: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: WaterfallRows | None = None
        self.levels: list[list[int]] = []  # by depth: nodes in row order
        self.current: int | None = None
        self._cells: dict[tuple[int, int], list[int]] = {}  # (depth, width) -> node per cell

    def show(self, rows: WaterfallRows) -> None:
        """Display a laid-out trace."""
        self.rows = rows
        levels: list[list[int]] = []
        for row, node in enumerate(rows.order):
            depth = rows.depth[row]
            while len(levels) <= depth:
                levels.append([])
            levels[depth].append(node)
        self.levels = levels
        self._cells = {}
        self.virtual_size = Size(self.size.width, len(levels))
        self.refresh()

    def mark(self, node: int | None) -> None:
        """Reverse the box of ``node`` (the waterfall's current span)."""
        if node != self.current:
            self.current = node
            self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._cells = {}
        self.virtual_size = Size(event.size.width, len(self.levels))

    def cells(self, depth: int, width: int) -> list[int]:
        """The node drawn in each cell of line ``depth`` (EMPTY where none), for a line ``width`` wide."""
        key = (depth, width)
        cached = self._cells.get(key)
        if cached is not None:
            return cached
        rows = self.rows
        out = [EMPTY] * width
        if rows is not None and depth < len(self.levels):
            spans = rows.trace.spans
            start, total = rows.start_ns, rows.total_ns
            for node in self.levels[depth]:
                span = spans[node]
                a = max(0, int((span.start_ns - start) / total * width))
                b = min(width, max(a + 1, int((span.end_ns - start) / total * width + 0.999)))
                for i in range(a, b):
                    if out[i] == EMPTY:
                        out[i] = node
        self._cells[key] = out
        return out

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        depth = y + round(self.scroll_offset.y)
        base = self.rich_style
        if self.rows is None or depth >= len(self.levels) or width <= 0:
            return Strip.blank(width, base)
        cells = self.cells(depth, width)
        segments: list[Segment] = []
        i = 0
        while i < width:
            node = cells[i]
            j = i
            while j < width and cells[j] == node:
                j += 1
            segments.append(self._box(node, j - i, base))
            i = j
        return Strip(segments).adjust_cell_length(width, base)

    def _box(self, node: int, width: int, base: Style) -> Segment:
        rows = self.rows
        if node == EMPTY or rows is None:
            return Segment(" " * width, base)
        span = rows.trace.spans[node]
        critical = node in rows.critical
        style = base + self.get_component_rich_style("flame--critical" if critical else "flame--box")
        if span.status is Status.FAULT:
            style += self.get_component_rich_style("flame--fault")
        if node == self.current:
            style += self.get_component_rich_style("flame--current")
        text = ("*" if critical else "") + rows.labels[node]
        if width >= 2:  # a one-cell gap on the right keeps neighbouring boxes apart
            return Segment((text[: width - 1]).ljust(width - 1) + "▏", style)
        return Segment(text[:width].ljust(width), style)

    def node_at(self, x: int, y: int) -> int | None:
        """The span drawn at content cell (x, y), if any."""
        depth = y + round(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        if self.rows is None or not 0 <= depth < len(self.levels) or not 0 <= x < width:
            return None
        node = self.cells(depth, width)[x]
        return None if node == EMPTY else node

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        node = self.node_at(offset.x, offset.y)
        if node is not None:
            self.post_message(self.SpanClicked(self, node))
