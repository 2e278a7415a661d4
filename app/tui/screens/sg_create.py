"""Create a security group: a name and a description, validated inline as the backend does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from app.tui.screens.form import SubmitCancel
from app.tui.widgets.guard import Guarded
from backend.inventory import validate
from backend.inventory.errors import ValidationError
from backend.network.rules import MAX_DESCRIPTION


@dataclass(slots=True, frozen=True)
class GroupSpec:
    name: str
    description: str


def check_group_name(value: str, taken: set[str]) -> str:
    try:
        validate.name(value, "security group name")
    except ValidationError as exc:
        return str(exc)
    if value in taken:
        return f"a security group named {value!r} exists already"
    return ""


def check_description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        return f"description is longer than {MAX_DESCRIPTION}"
    return ""


class CreateGroupScreen(Guarded, SubmitCancel, ModalScreen[GroupSpec | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+s", "submit", "Create", show=False),
    ]

    def __init__(self, taken: set[str]) -> None:
        super().__init__(classes="modal")
        self.taken = taken

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="sg-create-dialog"):
            yield Static("[b]Create security group[/b]", classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder="web", id="name", compact=True)
            yield Label("", id="name-error", classes="field-error")
            yield Label("Description (optional)")
            yield Input(id="description", compact=True)
            yield Label("", id="description-error", classes="field-error")
            yield Label("A new group denies all ingress and allows all egress.", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Create (ctrl+s)", id="create", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        error = check_group_name(event.value, self.taken) if event.value else ""
        self.query_one("#name-error", Label).update(error)

    @on(Input.Changed, "#description")
    def _description_changed(self, event: Input.Changed) -> None:
        self.query_one("#description-error", Label).update(check_description(event.value))

    def action_submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        description = self.query_one("#description", Input).value
        name_error = check_group_name(name, self.taken)
        description_error = check_description(description)
        self.query_one("#name-error", Label).update(name_error)
        self.query_one("#description-error", Label).update(description_error)
        if name_error or description_error:
            self.query_one("#name" if name_error else "#description", Input).focus()
            return
        self.dismiss(GroupSpec(name, description))
