"""Snapshot a disk: a name, by default DISK-DATE-TIME as the engine would pick it."""

from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Label

from app.tui.screens.form import FormScreen, field
from app.tui.widgets.form_rules import free_name, name_error


class SnapshotCreateScreen(FormScreen[str]):
    """Returns the name, or "" for the engine's automatic one."""

    SUBMIT = "Snapshot"
    DIALOG_ID = "snapshot-create-dialog"

    def __init__(self, disk_name: str, live: bool, taken: set[str]) -> None:
        super().__init__()
        self.disk_name = disk_name
        self.live = live
        self.taken = taken

    def heading(self) -> str:
        return f"Snapshot disk {self.disk_name}"

    def fields(self) -> ComposeResult:
        stamp = f"{self.disk_name[:40]}-{time.strftime('%Y%m%d-%H%M%S')}"  # as the engine's
        yield from field("Name", "name", free_name(stamp, self.taken))
        how = ("live through QEMU, consistent with what the guest wrote" if self.live
               else "offline, with qemu-img")
        yield Label(f"Taken {how}.", classes="hint")

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.show_error("name", name_error(value, "snapshot name", self.taken) if value else "")

    def result(self) -> str | None:
        name = self.value("name")
        if self.show_error("name", name_error(name, "snapshot name", self.taken)):
            return None
        return name
