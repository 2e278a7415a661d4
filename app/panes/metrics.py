"""Metrics: host facts and what running instances have been given (charts arrive later)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from app.panes.base import Pane
from app.panes.instances import state_style
from app.widgets.vtable import Column, Row, VirtualTable
from backend.models import Instance, InstanceState


def allocation_row(inst: Instance) -> Row:
    cells = (inst.name, inst.state.value, str(inst.vcpus), f"{inst.memory_mib} MiB",
             inst.accel.upper() or "-", str(inst.pid or "-"), inst.type)
    styles = ("", state_style(inst.state), "", "", "", "muted", "")
    return Row(inst.id, cells, styles, {"name": inst.name, "state": inst.state.value})


class MetricsPane(Pane):
    NAME = "metrics"
    TITLE = "Metrics · allocation"
    EMPTY = "No instances."
    NOTE = ("Per-instance CPU, memory, disk and network charts (and alarms) arrive with the "
            "monitoring issue.")
    COLUMNS = [
        Column("name", "INSTANCE", 8, 28),
        Column("state", "STATE", 9, 10),
        Column("vcpus", "vCPU", 4, 4, align_right=True),
        Column("memory", "MEMORY", 8, 10, align_right=True),
        Column("accel", "ACCEL", 5, 5, priority=2),
        Column("pid", "QEMU PID", 8, 8, priority=1, align_right=True),
        Column("type", "TYPE", 6, 10, priority=3),
    ]

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE, classes="pane-title")
        yield Static("", id="host-summary", classes="summary")
        yield VirtualTable(self.COLUMNS, empty_text=self.EMPTY, id=f"{self.NAME}-table")
        yield Static(self.NOTE, classes="pane-note")

    def refresh_data(self) -> None:
        facts = self.lecs.facts
        if facts is None:
            return
        running = [i for i in self.lecs.instances if i.state is InstanceState.RUNNING]
        vcpus = sum(i.vcpus for i in running)
        memory = sum(i.memory_mib for i in running)
        share = memory / facts.memory_mib if facts.memory_mib else 0.0
        self.query_one("#host-summary", Static).update(
            f"Host [b]{facts.hostname}[/b]: {facts.cpu_count} CPUs, "
            f"{facts.memory_mib / 1024:.1f} GiB, {facts.accel.upper()} "
            f"({facts.accel_reason})\n"
            f"Running instances: {len(running)} · vCPUs given {vcpus} of {facts.cpu_count} "
            f"host CPUs · memory given {memory} MiB ({share:.0%} of host)"
        )
        self.set_rows([allocation_row(i) for i in self.lecs.instances])
