"""What every pane shares: a title line, a virtual table, a filter, and a data refresh hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from app.tui.widgets.guard import Guarded
from app.tui.widgets.vtable import Column, Row, VirtualTable

if TYPE_CHECKING:
    from app.tui.dashboard import Dashboard


class Pane(Guarded, Vertical):
    """A named pane; `refresh_data` is called by the app's poll while the pane is shown."""

    NAME: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    COLUMNS: ClassVar[list[Column]] = []
    MARKABLE: ClassVar[bool] = False
    NEWEST_FIRST: ClassVar[bool] = False  # new rows come on top (see VirtualTable)
    EMPTY: ClassVar[str] = "Nothing here yet."
    NOTE: ClassVar[str] = ""  # an "arrives with …" line under the table

    def __init__(self) -> None:
        super().__init__(id=self.NAME, classes="pane")
        self._filter = ""

    @property
    def lecs(self) -> Dashboard:
        return cast("Dashboard", self.app)

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE, classes="pane-title")
        yield VirtualTable(self.COLUMNS, markable=self.MARKABLE, empty_text=self.EMPTY,
                           newest_first=self.NEWEST_FIRST, id=f"{self.NAME}-table")
        if self.NOTE:
            yield Static(self.NOTE, classes="pane-note")

    @property
    def table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    @property
    def composed(self) -> bool:
        """False between `mount()` and compose (a pane is mounted on first show): a key,
        a prompt or a poll may reach it then; each waits for on_mount instead."""
        return bool(self.query(VirtualTable))

    def focus_table(self) -> None:
        if self.composed:
            self.table.focus()

    def set_filter(self, text: str) -> None:
        self._filter = text
        if self.composed:
            self.table.set_filter(text)
            self.update_title()

    def set_rows(self, rows: list[Row]) -> None:
        if self.composed:
            self.table.set_rows(rows)
            self.update_title()

    def update_title(self) -> None:
        if not self.composed:
            return
        table = self.table
        shown, total = len(table.view), len(table.rows)
        parts = [f"[b]{self.TITLE}[/b]", f"{shown}" if shown == total else f"{shown} of {total}"]
        if table.filter_text:
            parts.append(f"filter: [$accent]{_escape(table.filter_text)}[/]")
        if table.marked:
            parts.append(f"[$mark]{len(table.marked)} marked[/]")
        if table.unseen:
            parts.append(f"[$accent]{table.unseen} new[/] [dim](g)[/]")
        self.query_one(".pane-title", Static).update(" · ".join(parts), layout=False)

    def on_mount(self) -> None:
        if self._filter:
            self.table.set_filter(self._filter)
        self.refresh_data()
        if self.lecs.pane_name == self.NAME:
            self.focus_table()

    def refresh_data(self) -> None:
        """Reload from the backend (called by the poll while visible, and on show)."""

    def on_virtual_table_highlighted(self, message: VirtualTable.Highlighted) -> None:
        self.update_title()


def _escape(text: str) -> str:
    return text.replace("[", r"\[")
