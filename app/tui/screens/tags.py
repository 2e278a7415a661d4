"""Edit an instance's tags as one line of `k=v` pairs."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from app.tui.screens.create_instance import check_tags
from app.tui.widgets.guard import Guarded


class TagsScreen(Guarded, ModalScreen[dict[str, str] | None]):
    """Returns the complete new tag set (the caller works out what to add and remove)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, name: str, tags: dict[str, str]) -> None:
        super().__init__(classes="modal")
        self.instance_name = name
        self.tags = tags

    def compose(self) -> ComposeResult:
        text = " ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        with Vertical(classes="dialog", id="tags-dialog"):
            yield Static(f"[b]Tags of {self.instance_name}[/b]", classes="dialog-title")
            yield Label("k=v pairs separated by spaces; remove a pair to delete that tag")
            yield Input(text, id="tags", compact=True)
            yield Label("", id="tags-error", classes="field-error")
            yield Label("enter saves · esc cancels", classes="hint")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#tags-error", Label).update(check_tags(event.value)[1])

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        tags, error = check_tags(event.value)
        if not error:
            self.dismiss(tags)

    def action_cancel(self) -> None:
        self.dismiss(None)
