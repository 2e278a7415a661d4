"""Disks (EVS): every disk the engine knows (today: system disks of instances)."""

from __future__ import annotations

from app.panes.base import Pane
from app.widgets.vtable import Column, Row
from backend.models import Disk, DiskState

STATE_STYLE = {DiskState.IN_USE: "ok", DiskState.AVAILABLE: "stopped", DiskState.ERROR: "bad",
               DiskState.CREATING: "busy", DiskState.RESIZING: "busy"}


def disk_row(disk: Disk, owner: str) -> Row:
    cells = (
        disk.name, disk.id, f"{disk.size_gib} GiB", disk.format, disk.role, disk.state.value,
        owner or "-", "yes" if disk.delete_with_instance else "no",
        "yes" if disk.encrypted else "no", disk.path,
    )
    styles = ("", "muted", "", "", "", STATE_STYLE.get(disk.state, ""), "", "", "", "muted")
    fields = {"name": disk.name, "id": disk.id, "state": disk.state.value, "role": disk.role,
              "instance": owner}
    return Row(disk.id, cells, styles, fields)


class DisksPane(Pane):
    NAME = "disks"
    TITLE = "Disks"
    EMPTY = "No disks: each instance's system disk shows here."
    NOTE = ("Creating, attaching, resizing, snapshotting and deleting data disks arrives "
            "with the storage issue.")
    COLUMNS = [
        Column("name", "NAME", 10, 32),
        Column("id", "ID", 12, 12, priority=2),
        Column("size", "SIZE", 6, 8, align_right=True),
        Column("format", "FORMAT", 6, 6, priority=4),
        Column("role", "ROLE", 6, 6),
        Column("state", "STATE", 9, 9),
        Column("instance", "ATTACHED TO", 11, 24, priority=1),
        Column("dwi", "DEL W/ INST", 11, 11, priority=5),
        Column("encrypted", "ENCRYPTED", 9, 9, priority=6),
        Column("path", "PATH", 10, 60, priority=7),
    ]

    def refresh_data(self) -> None:
        rows: list[Row] = []
        for inst in self.lecs.instances:
            rows.extend(disk_row(d, inst.name) for d in inst.disks)
        self.set_rows(rows)
