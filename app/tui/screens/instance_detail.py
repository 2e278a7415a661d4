"""One instance in full: properties, disks, NIC and forwarded ports, QEMU pid, recent events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from app.render import duration, home_path
from app.tui.widgets.cells import params_text, tags_text, when
from app.tui.widgets.guard import Guarded
from backend.compute.records import Instance
from backend.inventory.records import Event, InstanceState
from backend.network.ports import mac_for

if TYPE_CHECKING:
    from app.tui.dashboard import Dashboard


def _grid(title: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=None,
                  show_header=True, header_style="bold", pad_edge=False, expand=False)
    return table


def properties(inst: Instance, now: float) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    uptime = duration(now - inst.started_at) if inst.state is InstanceState.RUNNING \
        and inst.started_at else "-"
    rows = [
        ("ID", inst.id), ("State", inst.state.value), ("Type", inst.type),
        ("vCPU / memory", f"{inst.vcpus} / {inst.memory_mib} MiB"),
        ("Image", f"{inst.image_name} ({inst.image_id})"), ("Login user", inst.login_user),
        ("Created", when(inst.created_at)), ("Uptime", uptime),
        ("QEMU pid", str(inst.pid or "-")), ("Accelerator", inst.accel.upper() or "-"),
        ("Tags", tags_text(inst.tags) or "-"), ("Runtime dir", inst.runtime_dir),
    ]
    if inst.last_error:
        rows.append(("Last error", inst.last_error))
    for key, value in rows:
        grid.add_row(key, Text(value))
    return grid


def disks(inst: Instance, home: Path | None = None) -> Table:
    table = _grid("Disks")
    for col in ("NAME", "ID", "SIZE", "FORMAT", "ROLE", "STATE", "PATH"):
        table.add_column(col, overflow="fold" if col == "PATH" else "ellipsis")
    for d in inst.disks:
        table.add_row(d.name, d.id, f"{d.size_gib} GiB", d.format, d.role, d.state.value,
                      home_path(d.path, home))
    return table


def network(inst: Instance) -> Table:
    table = _grid("NIC and forwarded ports")
    for col in ("NIC", "PROTO", "HOST", "GUEST PORT"):
        table.add_column(col)
    nic = f"virtio-net, user-mode NAT, MAC {mac_for(inst.id)}"
    if not inst.forwards:
        table.add_row(nic, "-", "-", "-")
    for n, f in enumerate(inst.forwards):
        table.add_row(nic if n == 0 else "", f.protocol, f"{f.host_addr}:{f.host_port}",
                      str(f.guest_port))
    return table


def recent(events: list[Event]) -> Table:
    table = _grid("Recent events")
    for col in ("TIME", "ACTION", "RESULT", "TOOK", "DETAIL"):
        table.add_column(col, overflow="fold" if col == "DETAIL" else "ellipsis")
    for e in events:
        table.add_row(when(e.time), e.action, e.result, f"{e.duration_ms / 1000:.1f}s",
                      params_text(e))
    if not events:
        table.add_row("-", "-", "-", "-", "-")
    return table


class InstanceDetailScreen(Guarded, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", tooltip="Back to the panes"),
        Binding("c", "console", "Console", tooltip="Serial console (when running)"),
    ]

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id

    @property
    def lecs(self) -> Dashboard:
        return cast("Dashboard", self.app)

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title", classes="pane-title")
        with VerticalScroll(id="detail-body"):
            yield Static("", id="detail-props")
            yield Static("", id="detail-disks")
            yield Static("", id="detail-net")
            yield Static("", id="detail-events")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()
        self.redraw()
        self.set_interval(0.5, self.redraw)

    def current(self) -> Instance | None:
        return next((i for i in self.lecs.instances if i.id == self.instance_id), None)

    def redraw(self) -> None:
        inst = self.current()
        title = self.query_one("#detail-title", Static)
        if inst is None:
            title.update(f"[b]{self.instance_id}[/b] · deleted")
            return
        title.update(f"[b]Instance {inst.name}[/b] · {inst.state.value} · esc back")
        self.query_one("#detail-props", Static).update(properties(inst, self.lecs.clock()))
        self.query_one("#detail-disks", Static).update(disks(inst, self.lecs.cloud.paths.home))
        self.query_one("#detail-net", Static).update(network(inst))
        events = self.lecs.cloud.audit.list(resource=inst.id, limit=8)
        self.query_one("#detail-events", Static).update(recent(events))

    def action_console(self) -> None:
        self.lecs.open_console(self.instance_id)
