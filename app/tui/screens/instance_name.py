"""A new name for an instance: rename it, or name its clone(s)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Label

from app.tui.screens.form import FormScreen, field
from app.tui.widgets.form_rules import name_error


@dataclass(slots=True, frozen=True)
class NameAnswer:
    name: str
    count: int | None = None  # clones: NAME-1 … NAME-N


class InstanceNameScreen(FormScreen[NameAnswer]):
    DIALOG_ID = "instance-name-dialog"

    def __init__(self, heading: str, submit: str, value: str, taken: set[str], hint: str,
                 count: bool = False) -> None:
        super().__init__()
        self.title_text, self.SUBMIT = heading, submit
        self.start, self.taken, self.hint, self.with_count = value, taken, hint, count

    def heading(self) -> str:
        return self.title_text

    def fields(self) -> ComposeResult:
        yield from field("Name", "name", value=self.start)
        if self.with_count:
            yield from field("How many (blank: one, named as above; N: NAME-1 … NAME-N)",
                             "count", kind="integer")
        yield Label(self.hint, classes="hint")

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        self.show_error("name", name_error(event.value.strip(), "instance name", self.taken)
                        if event.value else "")

    def result(self) -> NameAnswer | None:
        name = self.typed("name")
        if self.show_error("name", name_error(name, "instance name", self.taken)):
            return None
        count = None
        if self.with_count and self.typed("count"):
            count = int(self.typed("count"))
            if not 1 <= count <= 50:
                self.show_error("count", "1 to 50 clones")
                return None
        return NameAnswer(name, count)
