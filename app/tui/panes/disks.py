"""Disks (EVS): every disk, system and data, with the keys that create, attach, detach,
resize, snapshot, back up and delete them; enter opens a disk's snapshot tree."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType

from app.render import home_path
from app.tui.panes.base import Pane
from app.tui.widgets.vtable import Column, Row, VirtualTable
from backend.inventory.records import Disk, DiskState

# Re-read every disk when the inventory or the operations in flight change, else at most this
# often (10,000 disks take ~50 ms to list): catches what the CLI did in another terminal.
FULL_EVERY = 2.0
STATE_STYLE = {DiskState.IN_USE: "ok", DiskState.AVAILABLE: "stopped", DiskState.ERROR: "bad",
               DiskState.CREATING: "busy", DiskState.RESIZING: "busy"}


def disk_row(disk: Disk, owner: str, snapshots: int = 0, home: Path | None = None) -> Row:
    cells = (
        disk.name, disk.id, f"{disk.size_gib} GiB", disk.format, disk.role, disk.state.value,
        owner or "-", "yes" if disk.delete_with_instance else "no",
        "yes" if disk.encrypted else "no", str(snapshots) if snapshots else "-",
        home_path(disk.path, home),
    )
    styles = ("", "muted", "", "", "", STATE_STYLE.get(disk.state, ""), "", "", "", "",
              "muted")
    fields = {"name": disk.name, "id": disk.id, "state": disk.state.value, "role": disk.role,
              "instance": owner, "encrypted": cells[8]}
    return Row(disk.id, cells, styles, fields)


class DisksPane(Pane):
    NAME = "disks"
    TITLE = "Disks"
    EMPTY = "No disks: press n to create a data disk."
    COLUMNS = [
        Column("name", "NAME", 10, 32),
        Column("id", "ID", 12, 12, priority=2),
        Column("size", "SIZE", 6, 9, align_right=True),
        Column("format", "FORMAT", 6, 6, priority=5),
        Column("role", "ROLE", 6, 6),
        Column("state", "STATE", 9, 9),
        Column("instance", "ATTACHED TO", 11, 24, priority=1),
        Column("dwi", "DEL W/ INST", 11, 11, priority=4),
        Column("encrypted", "ENCRYPTED", 9, 9, priority=3),
        Column("snapshots", "SNAPS", 5, 5, priority=6, align_right=True),
        Column("path", "PATH", 10, 60, priority=7),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "create", "New", tooltip="Create a data disk (name, size, encrypted)"),
        Binding("a", "attach", "Attach",
                tooltip="Attach the disk to an instance (live to a running one)"),
        Binding("x", "detach", "Detach", tooltip="Detach the disk from its instance (asks first)"),
        # r and i stay off the footer so that it fits 80 columns (? and ctrl+p list them)
        Binding("r", "resize", "Resize", show=False,
                tooltip="Grow the disk (online if its instance runs)"),
        Binding("s", "snapshot", "Snapshot", tooltip="Take a snapshot of the disk"),
        Binding("i", "detail", "Snapshots", show=False,
                tooltip="Details: the disk's snapshot tree, rollback, delete (enter too)"),
        Binding("b", "backup", "Backup", show=False,
                tooltip="Back up every disk of the disk's instance together, with progress"),
        Binding("B", "backups", "Backups", show=False,
                tooltip="Backups: list them, restore one onto its stopped instance, delete"),
        Binding("w", "toggle_dwi", "Del w/ inst", show=False,
                tooltip="Toggle delete-with-instance for a data disk"),
        Binding("D", "delete", "Delete", tooltip="Delete the disk and its snapshots (asks first)"),
    ]

    _seen: object = None
    _basis: object = None
    _listed_at = 0.0

    def refresh_data(self) -> None:
        basis = (self.lecs.version, frozenset(self.lecs.ops.running))
        now = time.monotonic()
        if basis == self._basis and now - self._listed_at < FULL_EVERY and self.table.rows:
            return
        self._basis, self._listed_at = basis, now
        cloud = self.lecs.cloud
        disks = cloud.disks.list()
        counts = Counter(s.disk_id for s in cloud.snapshots.list())
        owners = {i.id: i.name for i in self.lecs.instances}
        seen = (disks, counts, owners)
        if seen == self._seen and self.table.rows:
            return
        self._seen = seen
        home = cloud.paths.home
        self.set_rows([disk_row(d, owners.get(d.instance_id or "", d.instance_id or ""),
                                counts[d.id], home) for d in disks])

    def _key(self) -> str | None:
        return self.table.current_key

    def action_create(self) -> None:
        self.lecs.create_disk()

    def action_attach(self) -> None:
        if key := self._key():
            self.lecs.attach_disk(key)

    def action_detach(self) -> None:
        if key := self._key():
            self.lecs.detach_disk(key)

    def action_resize(self) -> None:
        if key := self._key():
            self.lecs.resize_disk(key)

    def action_snapshot(self) -> None:
        if key := self._key():
            self.lecs.snapshot_disk(key)

    def action_detail(self) -> None:
        if key := self._key():
            self.lecs.open_disk_detail(key)

    def on_virtual_table_selected(self, message: VirtualTable.Selected) -> None:
        self.lecs.open_disk_detail(message.key)

    def action_backup(self) -> None:
        key = self._key()
        disk = next((d for d in self.lecs.cloud.disks.list() if d.id == key), None)
        if disk is None:
            return
        if not disk.instance_id:
            self.notify(f"disk {disk.name!r} is not attached: a backup is of an instance's"
                        " disks", severity="warning", title="backup")
            return
        self.lecs.backup_instance(disk.instance_id)

    def action_backups(self) -> None:
        key = self._key()
        disk = next((d for d in self.lecs.cloud.disks.list() if d.id == key), None)
        self.lecs.open_backups(disk.instance_id if disk is not None else None)

    def action_toggle_dwi(self) -> None:
        if key := self._key():
            self.lecs.toggle_delete_with_instance(key)

    def action_delete(self) -> None:
        if key := self._key():
            self.lecs.delete_disk(key)
