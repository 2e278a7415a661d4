"""A minimal dashboard: the instances table (the full console arrives with the dashboard issue)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from backend import Cloud


class LecsApp(App[None]):
    TITLE = "lecs"
    BINDINGS = [("q", "quit", "Quit"), ("r", "refresh", "Refresh")]

    def __init__(self, cloud: Cloud) -> None:
        super().__init__()
        self.cloud = cloud

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="instances", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("NAME", "ID", "STATE", "TYPE", "IMAGE", "PORTS")
        facts = self.cloud.host_facts()
        self.sub_title = f"QEMU {facts.qemu_version} · {facts.accel.upper()}"
        self.action_refresh()
        self.set_interval(1.0, self.action_refresh)

    def action_refresh(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for inst in self.cloud.instances.list():
            ports = " ".join(f"{f.host_port}->{f.guest_port}" for f in inst.forwards)
            table.add_row(inst.name, inst.id, inst.state.value, inst.type, inst.image_name, ports)
