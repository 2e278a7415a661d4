"""Create an instance: name, image, type and tags, validated inline as the backend does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from backend import validate
from backend.errors import ValidationError
from backend.models import Image, InstanceType


@dataclass(slots=True, frozen=True)
class CreateSpec:
    name: str
    image: str
    itype: str
    tags: dict[str, str]


def check_name(value: str, taken: set[str]) -> str:
    """The error for a name, or "" if the backend would accept it."""
    try:
        validate.name(value, "instance name")
    except ValidationError as exc:
        return str(exc)
    if value in taken:
        return f"an instance named {value!r} exists already"
    return ""


def check_tags(value: str) -> tuple[dict[str, str], str]:
    try:
        return validate.tags(value.replace(",", " ").split()), ""
    except ValidationError as exc:
        return {}, str(exc)


class CreateInstanceScreen(ModalScreen[CreateSpec | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Close the dialog"),
        Binding("ctrl+s", "submit", "Create", tooltip="Submit the dialog (enter in a field too)"),
    ]

    def __init__(self, images: list[Image], types: list[InstanceType], taken: set[str]) -> None:
        super().__init__(classes="modal")
        self.images = [i for i in images if i.state.value == "available"]
        self.types = types
        self.taken = taken

    def compose(self) -> ComposeResult:
        image_opts = [(f"{i.name} ({i.format})", i.name) for i in self.images]
        type_opts = [(f"{t.name}  {t.vcpus} vCPU  {t.memory_mib} MiB", t.name) for t in self.types]
        first_image = image_opts[0][1] if image_opts else Select.NULL
        first_type = next((t.name for t in self.types if t.name == "t1.nano"),
                          type_opts[0][1] if type_opts else Select.NULL)
        with Vertical(classes="dialog", id="create-dialog"):
            yield Static("[b]Create instance[/b]", classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder="web-1", id="name", compact=True)
            yield Label("", id="name-error", classes="field-error")
            yield Label("Image")
            yield Select(image_opts, value=first_image, id="image", allow_blank=not image_opts,
                         compact=True)
            yield Label("Type")
            yield Select(type_opts, value=first_type, id="type", allow_blank=False,
                         compact=True)
            yield Label("Tags (k=v, separated by spaces or commas)")
            yield Input(placeholder="env=dev team=lab", id="tags", compact=True)
            yield Label("", id="tags-error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Create (ctrl+s)", id="create", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        error = check_name(event.value, self.taken) if event.value else ""
        self.query_one("#name-error", Label).update(error)

    @on(Input.Changed, "#tags")
    def _tags_changed(self, event: Input.Changed) -> None:
        self.query_one("#tags-error", Label).update(check_tags(event.value)[1])

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        name_error = check_name(name, self.taken)
        tags, tags_error = check_tags(self.query_one("#tags", Input).value)
        self.query_one("#name-error", Label).update(name_error)
        self.query_one("#tags-error", Label).update(tags_error)
        image = self.query_one("#image", Select).value
        itype = self.query_one("#type", Select).value
        if image is Select.NULL:
            self.notify("no available image: import one first", severity="error")
            return
        if name_error or tags_error:
            self.query_one("#name" if name_error else "#tags", Input).focus()
            return
        self.dismiss(CreateSpec(name, str(image), str(itype), tags))
