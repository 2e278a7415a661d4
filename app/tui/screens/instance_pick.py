"""Pick one of a list for an instance: its new type (resize) or image (rebuild), with an
optional checkbox (rebuild: keep the old system disk)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.widgets import Checkbox, Label, Select

from app.tui.screens.form import FormScreen


@dataclass(slots=True, frozen=True)
class Picked:
    value: str
    checked: bool = False


class InstancePickScreen(FormScreen[Picked]):
    DIALOG_ID = "instance-pick-dialog"

    def __init__(self, heading: str, submit: str, label: str, options: list[tuple[str, str]],
                 hint: str, checkbox: str = "") -> None:
        super().__init__()
        self.title_text, self.SUBMIT = heading, submit
        self.label, self.options, self.hint, self.checkbox = label, options, hint, checkbox

    def heading(self) -> str:
        return self.title_text

    def fields(self) -> ComposeResult:
        yield Label(self.label)
        yield Select(self.options, value=self.options[0][1] if self.options else Select.NULL,
                     id="choice", allow_blank=not self.options, compact=True)
        yield Label("", id="choice-error", classes="field-error")
        if self.checkbox:
            yield Checkbox(self.checkbox, False, id="check", compact=True)
        yield Label(self.hint, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#choice", Select).focus()

    def result(self) -> Picked | None:
        chosen = self.query_one("#choice", Select).value
        if chosen is Select.NULL:
            self.show_error("choice", "nothing to choose from")
            return None
        checked = bool(self.checkbox) and self.query_one("#check", Checkbox).value
        return Picked(str(chosen), checked)
