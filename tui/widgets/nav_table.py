"""A DataTable with vim-style movement (j/k/g/G) and row selection by Enter, for every list in the app."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.widgets import DataTable


class NavTable(DataTable[object]):
    """DataTable that moves with j/k/g/G too; cells must be rich Text (plain str would be read as markup)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)

    def add_keyed_columns(self, labels: Iterable[str]) -> None:
        """One column per label, keyed by that label."""
        for label in labels:
            self.add_column(label, key=label)

    def action_scroll_top(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
