"""Create a data disk: name, size in GiB, encrypted, delete-with-instance; checked inline."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, Input

from app.tui.screens.form import FormScreen, field
from app.tui.widgets.form_rules import free_name, name_error, size_error


@dataclass(slots=True, frozen=True)
class DiskSpec:
    name: str
    size_gib: int
    encrypted: bool
    delete_with_instance: bool


class CreateDiskScreen(FormScreen[DiskSpec]):
    HEADING = "Create disk"
    SUBMIT = "Create"
    DIALOG_ID = "disk-create-dialog"

    def __init__(self, taken: set[str]) -> None:
        super().__init__()
        self.taken = taken

    def fields(self) -> ComposeResult:
        yield from field("Name", "name", free_name("data-1", self.taken))
        yield from field("Size (GiB, 1-16384)", "size", "10", kind="integer")
        yield Checkbox("Encrypted (qcow2 LUKS; the key stays in lecs's key store)",
                       id="encrypted", compact=True)
        yield Checkbox("Delete with the instance it is attached to", id="dwi", compact=True)

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.show_error("name", name_error(value, "disk name", self.taken) if value else "")

    @on(Input.Changed, "#size")
    def _size_changed(self, event: Input.Changed) -> None:
        self.show_error("size", size_error(event.value)[1] if event.value else "")

    def result(self) -> DiskSpec | None:
        name = self.value("name")
        size, size_problem = size_error(self.value("size"))
        name_problem = self.show_error("name", name_error(name, "disk name", self.taken))
        self.show_error("size", size_problem)
        if name_problem or size_problem:
            self.query_one("#name" if name_problem else "#size", Input).focus()
            return None
        return DiskSpec(name, size, self.query_one("#encrypted", Checkbox).value,
                        self.query_one("#dwi", Checkbox).value)
