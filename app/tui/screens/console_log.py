"""The serial console's output without attaching (ECS GetInstanceConsoleOutput): the current
boot of a running instance, the last boot of a stopped one (L on Instances). esc closes."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from app.tui.widgets.guard import Guarded


class ConsoleLogScreen(Guarded, ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", tooltip="Close the console output"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__(classes="modal")
        self.heading, self.text = title, text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="console-log-dialog"):
            yield Static(f"[b]{self.heading}[/b]", classes="dialog-title", markup=True)
            yield TextArea(self.text or "(no output yet)", read_only=True, id="console-log",
                           soft_wrap=True)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.scroll_end(animate=False)
        area.move_cursor(area.document.end)

    def action_close(self) -> None:
        self.dismiss(None)
