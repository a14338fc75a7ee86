"""The filter input: takes an X-Ray filter expression, compiles it, and shows syntax errors inline by column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from spanscope.analysis.filters import compile_filter
from spanscope.collectors.errors import FilterSyntaxError
from spanscope.collectors.model import Trace
from spanscope.render.safe_text import clean
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

PLACEHOLDER = 'filter: X-Ray expression, e.g.  fault  |  responsetime > 1  |  service("api") { error }'


class FilterBox(Vertical):
    """An Input for filter expressions with an error line under it."""

    @dataclass
    class Applied(Message):
        """A valid expression was submitted ("" clears the filter; predicate None then)."""

        expression: str
        predicate: Callable[[Trace], bool] | None

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, id="filter-input")
        yield Static(Text(""), id="filter-error")

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    def set_expression(self, expression: str) -> None:
        """Put ``expression`` in the box and apply it as if typed."""
        self.input.value = expression
        self._apply(expression)

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply(event.value)

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if not event.value.strip():
            self._show_error(None)

    def _apply(self, expression: str) -> None:
        text = expression.strip()
        if not text:
            self._show_error(None)
            self.post_message(self.Applied("", None))
            return
        try:
            predicate = compile_filter(text)
        except FilterSyntaxError as exc:
            self._show_error(exc, offset=len(expression) - len(expression.lstrip()))
            return
        self._show_error(None)
        self.post_message(self.Applied(text, predicate))

    def _show_error(self, exc: FilterSyntaxError | None, *, offset: int = 0) -> None:
        error = self.query_one("#filter-error", Static)
        if exc is None:
            error.update(Text(""))
            self.remove_class("-invalid")
            return
        self.add_class("-invalid")
        column = max(1, int(getattr(exc, "column", 0) or 1)) + offset
        message = Text()
        message.append(" " * (column - 1) + "^ ", style="bold red")
        message.append(clean(str(exc)), style="red")
        error.update(message)
