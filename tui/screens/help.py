"""The help screen (`?`): what the keys do on every screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = (
    (
        "Screens",
        (
            ("1", "service map"),
            ("2", "traces"),
            ("3", "hotspots"),
            ("4", "failure chains"),
            ("5", "compare windows"),
            ("ctrl+p", "command palette"),
            ("?", "this help"),
            ("q", "quit"),
        ),
    ),
    (
        "Lists",
        (
            ("j / k, ↑ / ↓", "move"),
            ("g / G", "first / last"),
            ("Enter", "open the selected row"),
            ("click", "select (mouse)"),
        ),
    ),
    (
        "Traces",
        (
            ("/ or f", "filter with an X-Ray expression, for example:"),
            ("", 'fault    responsetime > 1    annotation.customer = "c3"'),
            ("", 'service("api") { error }    edge("api", "db") { responsetime > 0.5 }'),
            ("s / r", "sort by the next column / reverse (or click a column header)"),
            ("m", "mark a trace; a second mark opens their Diff (x swaps)"),
            ("Esc", "back to the table"),
        ),
    ),
    (
        "Trace",
        (
            ("Enter / space", "fold or unfold a subtree"),
            ("← / →  (h / l)", "fold / unfold, go to parent"),
            ("H / L", "scroll the names left / right"),
            ("/", "search spans: names, ids, messages, attribute keys and values, key=value"),
            ("n / N", "next / previous hit"),
            ("o", "next failure origin"),
            ("w", "follow links: linked traces on one timeline"),
            ("d", "show or hide the span detail"),
            ("i", "show or hide the flame graph (click a box to go to its span)"),
            ("Esc", "back"),
        ),
    ),
    (
        "Marks",
        (
            ("*  █", "span and stretch on the critical path"),
            ("✗", "failure origin"),
            ("↑", "failure propagated"),
            ("■", "failure stopped here"),
            ("…", "in progress"),
        ),
    ),
)


def help_text() -> Text:
    text = Text()
    for title, rows in HELP:
        text.append(f"{title}\n", style="bold underline")
        for key, meaning in rows:
            text.append(f"  {key:<18}", style="bold")
            text.append(f"{meaning}\n")
        text.append("\n")
    text.append("Press Esc, q or ? to close.", style="dim")
    return text


class HelpScreen(ModalScreen[None]):
    """Key bindings, grouped by screen."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(), id="help-text")
