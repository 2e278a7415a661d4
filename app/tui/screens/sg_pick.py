"""Pick one item from a list (an instance to attach a group to, or detach it from)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from app.tui.widgets.guard import Guarded


class PickScreen(Guarded, ModalScreen[str | None]):
    """`choices` are (key, label) pairs; enter or a click returns the key, esc returns None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="pick-dialog"):
            yield Static(f"[b]{self.title_text}[/b]", classes="dialog-title")
            yield OptionList(*(Option(label, id=key) for key, label in self.choices),
                             id="pick-list", compact=True)
            yield Label("enter picks · esc cancels", classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
