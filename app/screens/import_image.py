"""Import a disk image (qcow2, raw, vmdk, …): path, name and OS, validated before it runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from backend import validate
from backend.errors import ValidationError


@dataclass(slots=True, frozen=True)
class ImportSpec:
    path: str
    name: str
    os_name: str


class ImportImageScreen(ModalScreen[ImportSpec | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Import"),
    ]

    def __init__(self, taken: set[str]) -> None:
        super().__init__(classes="modal")
        self.taken = taken

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="import-dialog"):
            yield Static("[b]Import image[/b]", classes="dialog-title")
            yield Label("Disk image file")
            yield Input(placeholder="~/Downloads/debian-12-genericcloud-amd64.qcow2", id="path",
                        compact=True)
            yield Label("", id="path-error", classes="field-error")
            yield Label("Name")
            yield Input(placeholder="debian-12", id="name", compact=True)
            yield Label("", id="name-error", classes="field-error")
            yield Label("OS (optional)")
            yield Input(placeholder="Debian 12", id="os", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Import (ctrl+s)", id="import", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def _errors(self) -> tuple[str, str]:
        path = self.query_one("#path", Input).value.strip()
        name = self.query_one("#name", Input).value.strip()
        path_error = name_error = ""
        try:
            validate.existing_file(path, "image file")
        except ValidationError as exc:
            path_error = str(exc)
        try:
            validate.name(name, "image name")
            if name in self.taken:
                name_error = f"an image named {name!r} exists already"
        except ValidationError as exc:
            name_error = str(exc)
        return path_error, name_error

    @on(Input.Changed, "#path")
    def _path_changed(self, event: Input.Changed) -> None:
        name = self.query_one("#name", Input)
        if event.value and not name.value:
            stem = Path(event.value).name.split(".")[0]
            name.placeholder = stem or "debian-12"

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "import":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        name_input = self.query_one("#name", Input)
        if not name_input.value.strip() and name_input.placeholder != "debian-12":
            name_input.value = name_input.placeholder
        path_error, name_error = self._errors()
        self.query_one("#path-error", Label).update(path_error)
        self.query_one("#name-error", Label).update(name_error)
        if path_error or name_error:
            return
        self.dismiss(ImportSpec(self.query_one("#path", Input).value.strip(),
                                name_input.value.strip(),
                                self.query_one("#os", Input).value.strip()))
