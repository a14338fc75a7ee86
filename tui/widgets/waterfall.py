"""The trace waterfall: a virtual (Line API) view of a span tree with bars, critical path, failure marks and folding.

Only the lines on screen are rendered, so a trace of 10,000+ spans is one widget and a screenful of
work per repaint. Rows come from ``render.waterfall_rows`` (computed off the UI thread).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from spanscope.analysis.failures import FailureRole
from spanscope.collectors.model import Status
from spanscope.render.units import format_duration
from spanscope.render.waterfall_rows import WaterfallRows
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

_ROLE_MARK = {FailureRole.ORIGIN: "✗", FailureRole.PROPAGATED: "↑", FailureRole.STOPPED: "■"}
DURATION_WIDTH = 9
MIN_NAME_WIDTH = 16
NAME_SCROLL_STEP = 8


@dataclass(frozen=True, slots=True)
class NameColumn:
    """How wide the name column is and how a row's depth is indented in it.

    The column is as wide as the widest name needs (indent, fold marker, label) up to what leaves the
    bars a third of the line. Indents take two cells a level, one when the tree is too deep for that,
    and never more than a third of the column: deeper rows start at that cap with their depth written
    out (``38│``), so a deep span always shows its name. ``offset`` scrolls the column horizontally.
    """

    width: int
    step: int
    cap: int
    offset: int = 0

    @classmethod
    def fit(cls, rows: WaterfallRows, line_width: int, offset: int = 0) -> NameColumn:
        room = max(MIN_NAME_WIDTH, line_width - DURATION_WIDTH - 4 - max(12, line_width // 3))
        deepest = max(rows.depth, default=0)
        step = 2 if deepest * 2 <= room // 3 else 1
        cap = room // 3
        needed = max(
            (min(d * step, cap) + 6 + len(rows.labels[rows.order[r]]) for r, d in enumerate(rows.depth)), default=0
        )
        width = max(MIN_NAME_WIDTH, min(room, needed + 2))
        return cls(width, step, cap, offset)

    def text(self, depth: int, marker: str, label: str) -> str:
        """The row's name cell (``width - 2`` cells: the two marks come before it), scrolled by ``offset``."""
        indent = depth * self.step
        lead = " " * indent if indent <= self.cap else " " * max(0, self.cap - len(f"{depth}│")) + f"{depth}│"
        full = lead + marker + label
        return set_cell_size(full[self.offset :], self.width - 2)

    def longest(self, rows: WaterfallRows) -> int:
        """Cells the widest name needs (how far the column can scroll)."""
        return max(
            (min(d * self.step, self.cap) + 2 + len(rows.labels[rows.order[r]]) for r, d in enumerate(rows.depth)),
            default=0,
        )


class Waterfall(ScrollView, can_focus=True):
    """Span tree with timing bars. Enter/space folds a subtree; ←/→ fold/unfold; n/N jump between search hits."""

    COMPONENT_CLASSES = {
        "waterfall--cursor",
        "waterfall--critical",
        "waterfall--bar",
        "waterfall--fault",
        "waterfall--error",
        "waterfall--throttle",
        "waterfall--origin",
        "waterfall--match",
        "waterfall--dim",
    }

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "Top", show=False),
        Binding("end,G", "last", "Bottom", show=False),
        Binding("enter,space", "fold", "Fold"),
        Binding("left,h", "collapse", "Collapse", show=False),
        Binding("right,l", "expand", "Expand", show=False),
        Binding("n", "next_match", "Next hit"),
        Binding("N", "previous_match", "Prev hit", show=False),
        Binding("o", "next_origin", "Next failure origin"),
        Binding("w", "follow_links", "Linked traces", show=False),
        Binding("shift+right,L,greater_than_sign", "scroll_names(1)", "Names →", show=False),
        Binding("shift+left,H,less_than_sign", "scroll_names(-1)", "Names ←", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)
    #: how far the name column is scrolled to the right (cells)
    name_offset: reactive[int] = reactive(0)

    @dataclass
    class SpanHighlighted(Message):
        """The cursor moved to a span (``node`` is its position in the trace's spans)."""

        waterfall: Waterfall
        node: int

    @dataclass
    class FollowLinks(Message):
        """The user asked to show (or stop showing) the traces linked to or from this one as one workflow."""

        waterfall: Waterfall

    def action_follow_links(self) -> None:
        self.post_message(self.FollowLinks(self))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: WaterfallRows | None = None
        self.collapsed: set[int] = set()
        self.shown_rows: list[int] = []
        self.matches: list[int] = []
        self._match_set: set[int] = set()
        self._names: NameColumn | None = None

    # data ----------------------------------------------------------------------------------------
    def show(self, rows: WaterfallRows) -> None:
        """Display a laid-out trace (everything expanded)."""
        self.rows = rows
        self.collapsed = set()
        self.matches = []
        self._match_set = set()
        self._refresh_rows()
        self.cursor = 0

    def restore(self, collapsed: set[int], node: int | None) -> None:
        """Fold ``collapsed`` again and put the cursor back on ``node`` (after a reload of the same trace)."""
        self.collapsed = set(collapsed)
        self._refresh_rows(keep_node=node)

    def _refresh_rows(self, keep_node: int | None = None) -> None:
        self._names = None
        rows = self.rows
        self.shown_rows = rows.visible(self.collapsed) if rows else []
        self.virtual_size = Size(self.size.width, len(self.shown_rows))
        if keep_node is not None and rows is not None:
            self._move_to_node(keep_node)
        self.refresh()

    @property
    def current_node(self) -> int | None:
        if self.rows is None or not self.shown_rows:
            return None
        return self.rows.order[self.shown_rows[min(self.cursor, len(self.shown_rows) - 1)]]

    def _move_to_node(self, node: int) -> None:
        rows = self.rows
        if rows is None:
            return
        target = rows.row_of.get(node)
        if target is None:
            return
        # visible rows are sorted: find the row by bisection
        i = bisect_left(self.shown_rows, target)
        if i < len(self.shown_rows) and self.shown_rows[i] == target:
            self.cursor = i

    def reveal(self, node: int) -> None:
        """Unfold ``node``'s ancestors and put the cursor on it (a span picked in another view)."""
        if self.rows is None:
            return
        for parent in self.rows.ancestors(node):
            self.collapsed.discard(parent)
        self._refresh_rows(keep_node=node)

    def search(self, query: str) -> int:
        """Mark spans matching ``query``, unfold their ancestors, jump to the first; returns the hit count."""
        rows = self.rows
        if rows is None:
            return 0
        self.matches = rows.search(query)
        self._match_set = set(self.matches)
        if self.matches:
            for node in self.matches:
                for parent in rows.ancestors(node):
                    self.collapsed.discard(parent)
            self._refresh_rows(keep_node=self.matches[0])
        else:
            self.refresh()
        return len(self.matches)

    # cursor --------------------------------------------------------------------------------------
    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.shown_rows) - 1)) if self.shown_rows else 0

    def watch_cursor(self, old: int, new: int) -> None:
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        self.refresh()
        node = self.current_node
        if node is not None:
            self.post_message(self.SpanHighlighted(self, node))

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_page_up(self) -> None:
        self.cursor -= max(1, self.scrollable_content_region.height - 1)

    def action_page_down(self) -> None:
        self.cursor += max(1, self.scrollable_content_region.height - 1)

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = len(self.shown_rows) - 1

    def action_fold(self) -> None:
        node = self.current_node
        if node is None or self.rows is None:
            return
        if node in self.collapsed:
            self.collapsed.discard(node)
        elif self.rows.trace.children(node):
            self.collapsed.add(node)
        self._refresh_rows(keep_node=node)

    def action_collapse(self) -> None:
        node = self.current_node
        if node is None or self.rows is None:
            return
        if self.rows.trace.children(node) and node not in self.collapsed:
            self.collapsed.add(node)
            self._refresh_rows(keep_node=node)
            return
        parent = self.rows.trace.parent(node)
        if parent is not None:
            self._move_to_node(parent)

    def action_expand(self) -> None:
        node = self.current_node
        if node is not None and node in self.collapsed:
            self.collapsed.discard(node)
            self._refresh_rows(keep_node=node)

    def _jump(self, targets: list[int], step: int) -> None:
        current = self.current_node
        rows = self.rows
        if not targets or rows is None:
            return
        here = rows.row_of.get(current, -1) if current is not None else -1
        ordered = sorted(targets, key=lambda n: rows.row_of[n])
        if step > 0:
            after = [n for n in ordered if rows.row_of[n] > here]
            node = after[0] if after else ordered[0]
        else:
            before = [n for n in ordered if rows.row_of[n] < here]
            node = before[-1] if before else ordered[-1]
        for parent in rows.ancestors(node):
            self.collapsed.discard(parent)
        self._refresh_rows(keep_node=node)

    def action_next_match(self) -> None:
        self._jump(self.matches, 1)

    def action_previous_match(self) -> None:
        self._jump(self.matches, -1)

    def action_next_origin(self) -> None:
        if self.rows is not None:
            origins = [n for n, role in self.rows.roles.items() if role is FailureRole.ORIGIN]
            self._jump(origins, 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = offset.y + round(self.scroll_offset.y)
        if 0 <= row < len(self.shown_rows):
            self.cursor = row
            if event.chain >= 2:
                self.action_fold()

    def on_resize(self, event: events.Resize) -> None:
        self._names = None
        self.virtual_size = Size(event.size.width, len(self.shown_rows))

    # the name column -----------------------------------------------------------------------------
    def name_column(self) -> NameColumn | None:
        """The name column for the current rows and width (cached until either changes)."""
        rows = self.rows
        if rows is None:
            return None
        width = self.scrollable_content_region.width
        names = self._names
        if names is None or names.offset != self.name_offset:
            names = self._names = NameColumn.fit(rows, width, self.name_offset)
        return names

    def validate_name_offset(self, value: int) -> int:
        names = self.name_column()
        if names is None or self.rows is None:
            return 0
        return max(0, min(value, names.longest(self.rows) - (names.width - 2)))

    def action_scroll_names(self, direction: int) -> None:
        self.name_offset += direction * NAME_SCROLL_STEP

    def on_mouse_scroll_right(self, event: events.MouseScrollRight) -> None:
        event.stop()
        self.action_scroll_names(1)

    def on_mouse_scroll_left(self, event: events.MouseScrollLeft) -> None:
        event.stop()
        self.action_scroll_names(-1)

    # painting ------------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row_index = y + round(self.scroll_offset.y)
        rows = self.rows
        names = self.name_column()
        if rows is None or names is None or row_index >= len(self.shown_rows):
            return Strip.blank(width, self.rich_style)
        return self._line(rows, names, row_index, width)

    def _line(self, rows: WaterfallRows, names: NameColumn, row_index: int, width: int) -> Strip:
        base = self.rich_style
        style = self.get_component_rich_style
        row = self.shown_rows[row_index]
        node = rows.order[row]
        span = rows.trace.spans[node]
        depth = rows.depth[row]
        has_kids = rows.subtree_end[row] > row + 1
        marker = ("▸ " if node in self.collapsed else "▾ ") if has_kids else "  "
        role = rows.roles.get(node)
        role_mark = _ROLE_MARK.get(role, " ") if role is not None else " "
        crit = node in rows.critical
        bar_width = max(8, width - names.width - DURATION_WIDTH - 4)

        label_style = base
        if span.status is Status.FAULT:
            label_style = base + style("waterfall--fault")
        elif span.status is Status.THROTTLE:
            label_style = base + style("waterfall--throttle")
        elif span.status is Status.ERROR:
            label_style = base + style("waterfall--error")
        if node in self._match_set:
            label_style = label_style + style("waterfall--match")
        mark_style = base + style("waterfall--origin") if role is FailureRole.ORIGIN else label_style
        label = names.text(depth, marker, rows.labels[node])

        dur = format_duration(span.duration_ns) + ("…" if span.in_progress else "")
        segments = [
            Segment(role_mark, mark_style),
            Segment("*" if crit else " ", base + style("waterfall--critical") if crit else base),
            Segment(label, label_style),
            Segment(" " + dur.rjust(DURATION_WIDTH) + " ", base + style("waterfall--dim")),
        ]
        segments.extend(self._bar(rows, node, bar_width, base))
        segments.append(Segment(" "))
        line_style = base + style("waterfall--cursor") if row_index == self.cursor and self.has_focus else None
        if row_index == self.cursor and line_style is None:
            line_style = base + Style(reverse=True)
        strip = Strip(segments)
        if line_style is not None:
            strip = strip.apply_style(line_style)
        return strip.adjust_cell_length(width, base)

    def _bar(self, rows: WaterfallRows, node: int, width: int, base: Style) -> list[Segment]:
        span = rows.trace.spans[node]
        start, total = rows.start_ns, rows.total_ns
        cells = [0] * width  # 0 empty, 1 bar, 2 critical

        def paint(a_ns: int, b_ns: int, value: int) -> None:
            a = int((a_ns - start) / total * width)
            b = max(a + 1, int((b_ns - start) / total * width + 0.999))
            for i in range(max(0, a), min(width, b)):
                cells[i] = value

        paint(span.start_ns, span.end_ns, 1)
        for cs, ce in rows.critical.get(node, ()):
            paint(cs, ce, 2)
        bar_style = base + self.get_component_rich_style("waterfall--bar")
        crit_style = base + self.get_component_rich_style("waterfall--critical")
        if span.status is Status.FAULT:
            bar_style = base + self.get_component_rich_style("waterfall--fault")
        glyph = {0: " ", 1: "─", 2: "█"}
        styles = {0: base, 1: bar_style, 2: crit_style}
        out: list[Segment] = []
        run_value = cells[0] if cells else 0
        run_len = 0
        for value in cells:
            if value == run_value:
                run_len += 1
                continue
            out.append(Segment(glyph[run_value] * run_len, styles[run_value]))
            run_value, run_len = value, 1
        if run_len:
            out.append(Segment(glyph[run_value] * run_len, styles[run_value]))
        return out
