"""`?`: every key binding, in the tables the App hands in (app/tui/keys.py reads them from the
classes that define them, so they cannot drift)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from app.tui.widgets.guard import Guarded

KeyTable = tuple[str, list[tuple[str, str]]]  # a title, and (keys, what they do) rows


class HelpScreen(Guarded, ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, tables: list[KeyTable]) -> None:
        super().__init__(classes="modal")
        self.tables = tables

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help-dialog"):
            yield Static("[b]Keys[/b] · esc closes", classes="dialog-title")
            for title, rows in self.tables:
                table = Table(title=title, title_justify="left", title_style="bold",
                              show_header=False, box=None, padding=(0, 2, 0, 0))
                table.add_column(style="bold", min_width=14, no_wrap=True)
                table.add_column()
                for key, what in rows:
                    table.add_row(key, what)
                yield Static(table, classes="help-section")

    def on_mount(self) -> None:
        self.query_one("#help-dialog").focus()
