"""Create an image from a stopped instance's system disk: pick the instance, name the image."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Label, Select

from app.tui.screens.form import FormScreen, field
from app.tui.widgets.form_rules import free_name, name_error
from backend.compute.records import Instance
from backend.inventory.records import InstanceState


@dataclass(slots=True, frozen=True)
class ImageFromInstance:
    instance_id: str
    name: str


class CreateImageScreen(FormScreen[ImageFromInstance]):
    HEADING = "Create image from instance"
    SUBMIT = "Create"
    DIALOG_ID = "image-create-dialog"

    def __init__(self, instances: list[Instance], taken: set[str],
                 preselect: str | None = None) -> None:
        super().__init__()
        self.instances = [i for i in instances if i.state is InstanceState.STOPPED]
        self.taken = taken
        self.preselect = preselect

    def fields(self) -> ComposeResult:
        opts = [(f"{i.name}  ({i.image_name}, {i.type})", i.id) for i in self.instances]
        ids = [i.id for i in self.instances]
        first = self.preselect if self.preselect in ids else (ids[0] if ids else Select.NULL)
        yield Label("Stopped instance (its system disk becomes the image)")
        yield Select(opts, value=first, id="instance", allow_blank=not opts, compact=True)
        yield Label("", id="instance-error", classes="field-error")
        yield from field("Image name", "name", self.default_name(first))

    def default_name(self, instance_id: object) -> str:
        """`<instance>-image`, numbered past the names taken: a blank name means it."""
        inst = next((i for i in self.instances if i.id == instance_id), None)
        return free_name(f"{inst.name}-image", self.taken) if inst else ""

    @on(Select.Changed, "#instance")
    def _instance_changed(self, event: Select.Changed) -> None:
        self.query_one("#name", Input).placeholder = self.default_name(event.value)

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.show_error("name", name_error(value, "image name", self.taken) if value else "")

    def result(self) -> ImageFromInstance | None:
        chosen = self.query_one("#instance", Select).value
        problem = self.show_error("name", name_error(self.value("name"), "image name",
                                                     self.taken) if chosen is not Select.NULL
                                  else "")
        if chosen is Select.NULL:
            self.show_error("instance", "no stopped instance: stop one first")
            return None
        return None if problem else ImageFromInstance(str(chosen), self.value("name"))
