"""Attach a disk: pick a running (hot-plug) or stopped instance."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.widgets import Checkbox, Label, Select

from app.tui.screens.form import FormScreen
from backend.compute.records import Instance
from backend.inventory.records import Disk, InstanceState

ATTACHABLE = (InstanceState.RUNNING, InstanceState.STOPPED)


@dataclass(slots=True, frozen=True)
class AttachSpec:
    instance_id: str
    delete_with_instance: bool


def option(inst: Instance) -> str:
    how = "hot-plug" if inst.state is InstanceState.RUNNING else "at next start"
    return f"{inst.name}  {inst.state.value} · {how}"


class AttachDiskScreen(FormScreen[AttachSpec]):
    SUBMIT = "Attach"
    DIALOG_ID = "disk-attach-dialog"

    def __init__(self, disk: Disk, instances: list[Instance]) -> None:
        super().__init__()
        self.disk = disk
        self.instances = [i for i in instances if i.state in ATTACHABLE]

    def heading(self) -> str:
        return f"Attach disk {self.disk.name} ({self.disk.size_gib} GiB)"

    def fields(self) -> ComposeResult:
        opts = [(option(i), i.id) for i in self.instances]
        yield Label("Instance (running or stopped)")
        yield Select(opts, value=opts[0][1] if opts else Select.NULL, id="instance",
                     allow_blank=not opts, compact=True)
        yield Label("", id="instance-error", classes="field-error")
        yield Checkbox("Delete with the instance", self.disk.delete_with_instance, id="dwi",
                       compact=True)
        yield Label("A running instance gets the disk live as a virtio-blk device.",
                    classes="hint")

    def on_mount(self) -> None:
        self.query_one("#instance", Select).focus()

    def result(self) -> AttachSpec | None:
        chosen = self.query_one("#instance", Select).value
        if chosen is Select.NULL:
            self.show_error("instance", "no running or stopped instance to attach to")
            return None
        return AttachSpec(str(chosen), self.query_one("#dwi", Checkbox).value)
