"""Backups (`B` on Disks, or the palette): every instance backup, newest first; restore one
onto its stopped instance, or delete it. Both go through the App's `run_op`."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, Static

from app.render import size
from app.tui.screens.list_dialog import ListDialog
from app.tui.widgets.cells import when
from app.tui.widgets.vtable import Column, Row, VirtualTable
from app.tui.widgets.words import counted, pick
from backend.inventory.records import InstanceState
from backend.storage.records import Backup, BackupState

BACKUP_COLUMNS = [
    Column("name", "NAME", 12, 40),
    Column("instance", "INSTANCE", 8, 24),
    Column("state", "STATE", 9, 9),
    Column("created", "CREATED", 14, 14, priority=1),
    Column("size", "SIZE", 8, 10, priority=2, align_right=True),
    Column("disks", "DISKS", 5, 30, priority=3),
    Column("how", "TAKEN", 7, 7, priority=4),
    Column("id", "ID", 12, 16, priority=5),
]
STATE_STYLE = {BackupState.AVAILABLE: "ok", BackupState.CREATING: "busy", BackupState.ERROR: "bad"}


def backup_row(backup: Backup) -> Row:
    cells = (backup.name, backup.instance_name, backup.state.value, when(backup.created_at),
             size(backup.size_bytes) if backup.size_bytes else "-",
             ",".join(d.disk_name for d in backup.disks) or "-",
             "live" if backup.online else "offline", backup.id)
    styles = ("", "", STATE_STYLE.get(backup.state, ""), "muted", "", "muted", "muted", "muted")
    return Row(backup.id, cells, styles, {"name": backup.name, "instance": backup.instance_name,
                                          "state": backup.state.value, "id": backup.id})


def restore_question(backup: Backup, running: bool) -> str:
    n = len(backup.disks)
    disks = ", ".join(d.disk_name for d in backup.disks)
    what = pick(n, "Its disk", f"All {n} of its disks")
    question = (f"Restore {backup.instance_name} from backup {backup.name}"
                f" ({when(backup.created_at)})? {what} ({disks}) {pick(n, 'is', 'are')}"
                " overwritten with the copy; what was written since is lost.")
    if running:
        question += f"\n{backup.instance_name} is running: stop it first (the engine refuses)."
    return question


def delete_question(backup: Backup) -> str:
    n = len(backup.disks)
    return (f"Delete backup {backup.name} of {backup.instance_name}"
            f" ({counted(n, 'disk')}, {size(backup.size_bytes)})? Its"
            f" {pick(n, 'copy is', 'copies are')} removed; the disks themselves are not touched.")


class BackupsScreen(ListDialog):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("R", "restore", "Restore",
                tooltip="Restore the backup onto its stopped instance's disks (asks first)"),
        Binding("D", "delete", "Delete", tooltip="Delete the backup's copies (asks first)"),
        Binding("escape", "close", "Close", tooltip="Close the list"),
    ]

    def __init__(self, instance_id: str | None = None) -> None:
        """`instance_id`: put the cursor on that instance's newest backup."""
        super().__init__()
        self.instance_id = instance_id
        self.backups: list[Backup] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="backups-dialog"):
            yield Static("[b]Backups[/b] · all disks of an instance, copied together",
                         classes="dialog-title")
            yield VirtualTable(BACKUP_COLUMNS, newest_first=True, id="backups-table",
                               empty_text="No backups: press b on a disk of an instance.")
            yield Label("R restore · D delete · esc close · b on Disks backs up", classes="hint")

    def reload(self) -> None:
        self.backups = sorted(self.lecs.cloud.backups.list(), key=lambda b: -b.created_at)
        self.table.set_rows([backup_row(b) for b in self.backups])
        if self.instance_id is not None:
            mine = next((b for b in self.backups if b.instance_id == self.instance_id), None)
            self.instance_id = None
            if mine is not None:
                self.table.move_to(mine.id)

    def current(self) -> Backup | None:
        key = self.table.current_key
        return next((b for b in self.backups if b.id == key), None)

    def action_restore(self) -> None:
        backup = self.current()
        if backup is None:
            return
        backups = self.lecs.cloud.backups

        def go() -> None:
            self._run("backup.restore", backup.name, backups.restore, backup.id, progress=True)

        if backup.state is not BackupState.AVAILABLE:
            go()  # refused by the engine, which says why
            return
        owner = self.lecs.find(backup.instance_id)
        running = owner is not None and owner.state is not InstanceState.STOPPED
        self.lecs.confirm(restore_question(backup, running), go)

    def action_delete(self) -> None:
        backup = self.current()
        if backup is None:
            return
        backups = self.lecs.cloud.backups
        self.lecs.confirm(delete_question(backup),
                          lambda: self._run("backup.delete", backup.name, backups.delete,
                                            backup.id))
