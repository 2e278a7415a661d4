"""One disk in full: its properties and its snapshot tree, with snapshot create/rollback/delete."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from app.render import home_path, size
from app.tui.widgets.cells import when
from app.tui.widgets.guard import Guarded
from app.tui.widgets.vtable import Column, Row, VirtualTable
from backend.inventory.errors import NotFoundError
from backend.inventory.records import Disk
from backend.storage.records import Snapshot, SnapshotState

if TYPE_CHECKING:
    from app.tui.dashboard import Dashboard

STATE_STYLE = {SnapshotState.AVAILABLE: "ok", SnapshotState.CREATING: "busy",
               SnapshotState.ERROR: "bad"}
COLUMNS = [
    Column("name", "SNAPSHOT", 26, 60),  # a tree: cut names lose their branch
    Column("head", "HEAD", 4, 4),
    Column("id", "ID", 13, 13, priority=2),
    Column("state", "STATE", 9, 9),
    Column("created", "CREATED", 19, 19, priority=1),
    Column("size", "ALLOCATED", 9, 10, align_right=True, priority=4),
    Column("disk", "DISK SIZE", 9, 9, align_right=True, priority=3),
    Column("how", "TAKEN", 7, 7, priority=5),
]


def tree_prefixes(depths: list[int]) -> list[str]:
    """Box-drawing prefixes (`├─ `, `└─ `, `│  `) for a depth-first listing."""

    def more_at(i: int, level: int) -> bool:  # a later sibling at `level` under the same parent
        for d in depths[i + 1:]:
            if d <= level:
                return d == level
        return False

    out = []
    for i, depth in enumerate(depths):
        parts = [("│  " if more_at(i, lv) else "   ") for lv in range(1, depth)]
        if depth:
            parts.append("├─ " if more_at(i, depth) else "└─ ")
        out.append("".join(parts))
    return out


def snapshot_rows(tree: list[tuple[int, Snapshot]]) -> list[Row]:
    rows = []
    for prefix, (_depth, s) in zip(tree_prefixes([d for d, _ in tree]), tree, strict=True):
        cells = (prefix + s.name, "●" if s.current else "", s.id, s.state.value,
                 when(s.created_at), size(s.size_bytes), f"{s.disk_size_gib} GiB",
                 "live" if s.online else "offline")
        styles = ("", "ok", "muted", STATE_STYLE.get(s.state, ""), "muted", "", "", "muted")
        rows.append(Row(s.id, cells, styles, {"name": s.name, "id": s.id,
                                              "state": s.state.value}))
    return rows


def properties(disk: Disk, owner: str, head: str, home: Path | None = None) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_column(style="bold")
    grid.add_column()
    pairs = [
        ("ID", disk.id), ("State", disk.state.value), ("Size", f"{disk.size_gib} GiB"),
        ("Format", disk.format), ("Role", disk.role), ("Attached to", owner or "-"),
        ("Delete w/ instance", "yes" if disk.delete_with_instance else "no"),
        ("Encrypted", "yes (LUKS)" if disk.encrypted else "no"),
        ("Created", when(disk.created_at)), ("Head", head or "-"),
    ]
    for n in range(0, len(pairs), 2):
        (k1, v1), (k2, v2) = pairs[n], pairs[n + 1]
        grid.add_row(k1, Text(v1), k2, Text(v2))
    grid.add_row("Path", Text(home_path(disk.path, home)))
    return grid


class DiskDetailScreen(Guarded, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", tooltip="Back to the disks"),
        Binding("s", "snapshot", "Snapshot", tooltip="Take a snapshot of this disk"),
        Binding("R", "rollback", "Roll back",
                tooltip="Roll the disk back to the snapshot under the cursor (asks first;"
                        " the instance must be stopped)"),
        Binding("D", "delete", "Delete snapshot",
                tooltip="Delete the snapshot under the cursor (asks first)"),
    ]

    def __init__(self, disk_id: str) -> None:
        super().__init__()
        self.disk_id = disk_id
        self._seen: object = None

    @property
    def lecs(self) -> Dashboard:
        return cast("Dashboard", self.app)

    def compose(self) -> ComposeResult:
        yield Static("", id="disk-title", classes="pane-title")
        yield Static("", id="disk-props", classes="summary")
        yield VirtualTable(COLUMNS, empty_text="No snapshots yet: press s to take one.",
                           id="snapshot-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(VirtualTable).focus()
        self.redraw()
        self.set_interval(0.5, self.redraw)

    def redraw(self) -> None:
        cloud = self.lecs.cloud
        title = self.query_one("#disk-title", Static)
        try:
            disk = cloud.disks.get(self.disk_id)
            tree = cloud.snapshots.tree(disk.id)
        except NotFoundError:
            title.update(f"[b]{self.disk_id}[/b] · deleted · esc back")
            self.query_one(VirtualTable).set_rows([])
            return
        owner = self.lecs.find(disk.instance_id) if disk.instance_id else None
        owner_text = f"{owner.name} ({owner.state.value})" if owner else disk.instance_id or ""
        if (disk, owner_text, tree) == self._seen:
            return
        self._seen = (disk, owner_text, tree)
        head = next((s.name for _, s in tree if s.current), "")
        title.update(f"[b]Disk {disk.name}[/b] · {disk.state.value} · {len(tree)} snapshot"
                     f"{'' if len(tree) == 1 else 's'} · esc back")
        self.query_one("#disk-props", Static).update(properties(disk, owner_text, head,
                                                                    cloud.paths.home))
        self.query_one(VirtualTable).set_rows(snapshot_rows(tree))

    def current(self) -> str | None:
        return self.query_one(VirtualTable).current_key

    def action_snapshot(self) -> None:
        self.lecs.snapshot_disk(self.disk_id)

    def action_rollback(self) -> None:
        if key := self.current():
            self.lecs.rollback_snapshot(key)

    def action_delete(self) -> None:
        if key := self.current():
            self.lecs.delete_snapshot(key)
