"""Grow a disk: the new size in GiB, more than today's (disks only grow)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Label

from app.tui.screens.form import FormScreen, field
from app.tui.widgets.form_rules import size_error
from backend.inventory.records import Disk


def grow_error(value: str, current: int) -> tuple[int, str]:
    size, problem = size_error(value)
    if not problem and size <= current:
        problem = f"disks only grow: enter more than {current} GiB"
    return size, problem


class ResizeDiskScreen(FormScreen[int]):
    SUBMIT = "Resize"
    DIALOG_ID = "disk-resize-dialog"

    def __init__(self, disk: Disk, live: bool) -> None:
        super().__init__()
        self.disk = disk
        self.live = live

    def heading(self) -> str:
        return f"Resize disk {self.disk.name} ({self.disk.size_gib} GiB)"

    def fields(self) -> ComposeResult:
        yield from field("New size (GiB)", "size", value=str(self.disk.size_gib + 1),
                         kind="integer")
        yield Label("Grown online (block_resize): the running guest sees the new size."
                    if self.live else
                    "Grown offline (qemu-img resize); then grow the file system inside.",
                    classes="hint")

    @on(Input.Changed, "#size")
    def _size_changed(self, event: Input.Changed) -> None:
        self.show_error("size", grow_error(event.value, self.disk.size_gib)[1]
                        if event.value else "")

    def result(self) -> int | None:
        size, problem = grow_error(self.value("size"), self.disk.size_gib)
        return None if self.show_error("size", problem) else size
