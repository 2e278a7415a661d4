"""A yes/no modal for destructive actions: `y` confirms, `n` or `esc` cancels."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from app.tui.widgets.guard import Guarded


class ConfirmScreen(Guarded, ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", tooltip="Yes: go ahead (confirm dialogs)"),
        Binding("n,escape", "answer(False)", "No", tooltip="No: cancel (confirm dialogs)"),
    ]

    def __init__(self, question: str, action: str = "Confirm") -> None:
        super().__init__(classes="modal")
        self.question = question
        self.action_label = action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-dialog"):
            yield Static("[b]Are you sure?[/b]", classes="dialog-title")
            yield Label(self.question, id="confirm-question")
            with Horizontal(classes="buttons"):
                yield Button("Cancel (n)", id="no", compact=True)
                yield Button(f"{self.action_label} (y)", id="yes", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
