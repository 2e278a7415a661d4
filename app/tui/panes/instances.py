"""Instances (ECS): the table, and the keys that create, power, open and delete instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType

from app.render import duration
from app.tui.panes.base import Pane
from app.tui.widgets.cells import state_style, tags_text
from app.tui.widgets.sparklines import percent
from app.tui.widgets.vtable import Column, Row, VirtualTable
from app.tui.widgets.words import pick
from backend.compute.readiness import Readiness
from backend.compute.records import Instance
from backend.inventory.records import InstanceState

if TYPE_CHECKING:
    from backend.monitoring.records import MetricSample

S = InstanceState
NO_ANSWER = "no answer"  # a running QEMU that did not answer QMP in time


def ports(inst: Instance) -> str:
    return " ".join(f"{f.host_port}→{f.guest_port}" for f in inst.forwards)


def cpu_cell(inst: Instance, latest: dict[str, MetricSample]) -> tuple[str, str]:
    """Live CPU % and its style: "-" without a sample, "n/a" when the sample has none."""
    sample = latest.get(inst.id)
    if sample is None or inst.state is not S.RUNNING:
        return "-", "muted"
    value = sample.values.get("cpu_util")
    return percent(value), "busy" if value is not None and value >= 80 else ""


def instance_row(inst: Instance, now: float,
                 latest: dict[str, MetricSample] | None = None,
                 quiet: set[str] | None = None, level: Readiness | None = None) -> Row:
    """One row; `quiet` are the ids whose QEMU lives but does not answer QMP: "no answer",
    never `error` (the process is there; the guest may be busy or QEMU wedged). A running
    instance's state cell says how far its guest is, if known: booting, ready, configured."""
    cpu, cpu_style = cpu_cell(inst, latest or {})
    state = level.value if level and inst.state is S.RUNNING else inst.state.value
    if quiet and inst.id in quiet and inst.state is S.RUNNING:
        state = NO_ANSWER
    uptime = duration(now - inst.started_at) if inst.state is S.RUNNING and inst.started_at \
        else "-"
    cells = (
        inst.name, inst.id, state, inst.type, f"{inst.vcpus}/{inst.memory_mib}M",
        inst.image_name, ports(inst), uptime, tags_text(inst.tags), cpu,
    )
    styles = ("", "muted", "busy" if state == NO_ANSWER else state_style(inst.state), "", "",
              "", "", "", "muted", cpu_style)
    fields = {"name": inst.name, "id": inst.id, "state": inst.state.value, "type": inst.type,
              "image": inst.image_name}
    return Row(inst.id, cells, styles, fields, inst.tags)

CONFIRM = {
    "reboot": "Reboot {names}? The guest shuts down cleanly and starts again.",
    "force-stop": "Force-stop {names}? QEMU is killed; unsaved guest data is lost.",
    "delete": "Delete {names}? {disks} deleted with {them}.",
}


class InstancesPane(Pane):
    NAME = "instances"
    TITLE = "Instances"
    MARKABLE = True
    EMPTY = "No instances yet: press n to create one."
    COLUMNS = [  # priority: 0 always shown, then cut to min_width; higher numbers go first
        Column("name", "NAME", 8, 28),
        Column("id", "ID", 12, 12, priority=6),
        Column("state", "STATE", 9, 10),
        Column("type", "TYPE", 9, 10, priority=4),
        Column("size", "vCPU/MEM", 8, 10, priority=7),
        Column("image", "IMAGE", 8, 20, priority=5),
        Column("ports", "HOST PORTS", 10, 40, priority=2),
        Column("uptime", "UPTIME", 6, 8, priority=8, align_right=True),
        Column("tags", "TAGS", 6, 40, priority=3, flex=True),
        Column("cpu", "CPU", 5, 6, priority=1, align_right=True),  # live, from the sampler
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "create", "New", tooltip="Create an instance (name, image, type, tags)"),
        Binding("c", "console", "Console", tooltip="Serial console of a running instance"),
        Binding("i", "detail", "Details", show=False,
                tooltip="Details: disks, NIC, forwarded ports, QEMU pid, recent events"),
        Binding("s", "ssh", "SSH", show=False,
                tooltip="Suspend the dashboard and ssh to the forwarded port 22"),
        Binding("u", "start", "Start", tooltip="Start the marked (or current) instances"),
        Binding("x", "stop", "Stop", tooltip="Stop cleanly (ACPI power button, then quit)"),
        Binding("R", "reboot", "Reboot", show=False, tooltip="Reboot (asks first)"),
        Binding("K", "force_stop", "Force stop", show=False,
                tooltip="Force-stop: kill QEMU (asks first)"),
        Binding("D", "delete", "Delete", tooltip="Delete with the system disk (asks first)"),
        Binding("t", "tags", "Tags", show=False, tooltip="Edit tags"),
        Binding("z", "pause", "Pause", show=False,
                tooltip="Pause the marked (or current) running instances, resume paused ones"),
        Binding("e", "rename", "Rename", show=False, tooltip="Rename the instance"),
        Binding("T", "resize", "Resize", show=False,
                tooltip="Change the type of a stopped instance (pick from the list)"),
        Binding("B", "rebuild", "Rebuild", show=False,
                tooltip="New system disk from an image, for a stopped instance (asks first)"),
        Binding("C", "clone", "Clone", show=False,
                tooltip="Clone into new instances with their own disks"),
        Binding("L", "console_log", "Console log", show=False,
                tooltip="The serial console's output (a stopped instance: its last boot)"),
        Binding("space", "mark", "Mark", show=False,
                tooltip="Mark or unmark the row; actions apply to all marked rows"),
    ]

    _seen: tuple[int, int, bool] = (0, 0, False)

    def refresh_data(self) -> None:
        """Rebuild the rows when the inventory changed, or each second for the uptimes."""
        instances, now = self.lecs.instances, self.lecs.clock()
        ticking = any(i.state is S.RUNNING for i in instances)
        seen = (self.lecs.version, int(now) if ticking else 0, self.lecs.monitoring)
        if seen == self._seen and self.table.rows:
            return
        self._seen = seen
        latest = self.lecs.latest_samples()
        quiet = self.lecs.not_answering()
        level = self.lecs.cloud.instances.readiness  # the serial log, read when it changed
        self.set_rows([instance_row(i, now, latest, quiet, level(i)) for i in instances])

    # ---- selection -----------------------------------------------------------------
    def selected(self) -> list[Instance]:
        by_id = {i.id: i for i in self.lecs.instances}
        return [by_id[key] for key in self.table.selection() if key in by_id]

    def current(self) -> Instance | None:
        key = self.table.current_key
        return next((i for i in self.lecs.instances if i.id == key), None)

    def _names(self, items: list[Instance]) -> str:
        names = [i.name for i in items]
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

    # ---- actions -------------------------------------------------------------------
    def action_mark(self) -> None:
        self.table.toggle_mark()
        self.update_title()

    def action_create(self) -> None:
        self.lecs.open_create_instance()

    def action_detail(self) -> None:
        if inst := self.current():
            self.lecs.open_detail(inst.id)

    def action_console(self) -> None:
        if inst := self.current():
            self.lecs.open_console(inst.id)

    def on_virtual_table_selected(self, message: VirtualTable.Selected) -> None:
        inst = self.current()
        if inst is None:
            return
        if inst.state is S.RUNNING:
            self.lecs.open_console(inst.id)
        else:
            self.lecs.open_detail(inst.id)

    def action_ssh(self) -> None:
        if inst := self.current():
            self.lecs.ssh_to(inst.id)

    def _power(self, op: str, items: list[Instance] | None = None) -> None:
        from_selection = items is None
        items = self.selected() if items is None else items
        if not items:
            return
        confirm = CONFIRM.get(op)
        method = {"start": "start", "stop": "stop", "reboot": "reboot",
                  "force-stop": "force_stop", "delete": "delete"}[op]

        def go() -> None:
            for inst in items:
                call: Callable[[str], object] = getattr(self.lecs.cloud.instances, method)
                self.lecs.run_op(f"instance.{op}", inst.name, call, inst.id)
            if from_selection and self.table.marked:
                self.table.clear_marks()
                self.update_title()

        if confirm is None:
            go()
        else:
            n = len(items)
            self.lecs.confirm(confirm.format(
                names=self._names(items), n=n,
                disks=pick(n, "Its system disk is", "Their system disks are"),
                them=pick(n, "it", "them")), go)

    def action_start(self) -> None:
        self._power("start")

    def action_stop(self) -> None:
        self._power("stop")

    def action_reboot(self) -> None:
        self._power("reboot")

    def action_force_stop(self) -> None:
        self._power("force-stop")

    def action_delete(self) -> None:
        self._power("delete")

    def run_on(self, op: str, instance_id: str) -> None:
        """Run `op` on one instance whatever is marked (the command palette's path)."""
        found = [i for i in self.lecs.instances if i.id == instance_id]
        self._power(op, found)

    def action_pause(self) -> None:
        items = self.selected()
        if items:
            self.lecs.pause_resume([i.id for i in items])
            if self.table.marked:
                self.table.clear_marks()
                self.update_title()

    def action_rename(self) -> None:
        if inst := self.current():
            self.lecs.rename_instance(inst.id)

    def action_resize(self) -> None:
        if inst := self.current():
            self.lecs.resize_instance(inst.id)

    def action_rebuild(self) -> None:
        if inst := self.current():
            self.lecs.rebuild_instance(inst.id)

    def action_clone(self) -> None:
        if inst := self.current():
            self.lecs.clone_instance(inst.id)

    def action_console_log(self) -> None:
        if inst := self.current():
            self.lecs.open_console_log(inst.id)

    def action_tags(self) -> None:
        if inst := self.current():
            self.lecs.open_tags(inst.id)
