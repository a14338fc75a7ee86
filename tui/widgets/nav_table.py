"""A DataTable with vim-style movement (j/k/g/G) and row selection by Enter, for every list in the app."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


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

    def add_row(
        self,
        *cells: object,
        height: int | None = 1,
        key: str | None = None,
        label: str | Text | None = None,
    ) -> RowKey:
        """Add a row and widen its columns to its cells at once.

        DataTable measures new rows only when it next goes idle; a table fed from a worker before its first
        layout could be drawn (and stay) with label-wide columns and cut cells. Measuring here makes the
        widths a fact of the rows, whatever the timing; the idle pass then finds nothing left to widen.
        """
        row_key = super().add_row(*cells, height=height, key=key, label=label)
        console = self.app.console
        for column, cell in zip(self.ordered_columns, cells, strict=False):
            width = measure(console, cell, 1)  # type: ignore[arg-type]  # cells are rich Text (see the class)
            if width > column.content_width:
                column.content_width = width
        return row_key

    def action_scroll_top(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
