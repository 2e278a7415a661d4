"""What the storage dialogs share: a titled form, inline errors, esc cancels, ctrl+s submits.
Fields follow app/tui/widgets/form_rules.py: a placeholder is the default a blank field takes."""

from __future__ import annotations

from typing import ClassVar, Literal, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from app.tui.widgets.form_rules import entered, fit
from app.tui.widgets.guard import Guarded

T = TypeVar("T")


def field(label: str, field_id: str, default: str = "", value: str = "",
          kind: Literal["text", "integer"] = "text", tooltip: str | None = None
          ) -> ComposeResult:
    """A label, an input and the line for its error (`#<id>-error`); `default` shows grey
    and is what the field means left blank."""
    yield Label(label)
    yield Input(value, placeholder=default, id=field_id, compact=True, type=kind,
                tooltip=tooltip)
    yield Label("", id=f"{field_id}-error", classes="field-error")


class SubmitCancel:
    """Dialog plumbing shared by the modal forms: enter in a field or the submit button
    submits (`action_submit`), the other button or esc cancels."""

    SUBMIT_BUTTON: ClassVar[str] = "create"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == self.SUBMIT_BUTTON:
            self.action_submit()
        else:
            self.dismiss(None)  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        self.dismiss(None)  # type: ignore[attr-defined]

    def action_submit(self) -> None:
        raise NotImplementedError


class FormScreen(Guarded, SubmitCancel, ModalScreen[T | None]):
    """Subclasses yield their fields and turn them into a result (None while invalid)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Close the dialog"),
        Binding("ctrl+s", "submit", "Submit", tooltip="Submit the dialog (enter in a field too)"),
    ]
    HEADING: ClassVar[str] = ""
    SUBMIT: ClassVar[str] = "OK"
    SUBMIT_BUTTON = "submit"
    DIALOG_ID: ClassVar[str] = "form-dialog"

    def __init__(self) -> None:
        super().__init__(classes="modal")

    def heading(self) -> str:
        return self.HEADING

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id=self.DIALOG_ID):
            yield Static(f"[b]{self.heading()}[/b]", classes="dialog-title")
            yield from self.fields()
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(f"{self.SUBMIT} (ctrl+s)", id="submit", variant="primary",
                             compact=True)

    def fields(self) -> ComposeResult:
        raise NotImplementedError

    def result(self) -> T | None:
        """Validate every field, show the errors, and return the answer or None."""
        raise NotImplementedError

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()

    def value(self, field_id: str) -> str:
        """The field's value, or its default (the placeholder) when blank."""
        return entered(self.query_one(f"#{field_id}", Input))

    def typed(self, field_id: str) -> str:
        """Only what was typed (the inline check of a field still blank says nothing)."""
        return self.query_one(f"#{field_id}", Input).value.strip()

    def show_error(self, field_id: str, text: str) -> str:
        self.query_one(f"#{field_id}-error", Label).update(fit(text))
        return text

    def action_submit(self) -> None:
        answer = self.result()
        if answer is not None:
            self.dismiss(answer)

