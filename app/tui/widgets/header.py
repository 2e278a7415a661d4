"""The top two lines: host facts with a state summary, and the clickable pane bar."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from backend.compute.records import Instance
from backend.inventory.records import HostFacts, InstanceState


def _gib(mib: int) -> str:
    return f"{mib / 1024:.1f} GiB"


class HostHeader(Static):
    """`lecs · host · QEMU 7.2 · TCG · 2 CPU 7.8 GiB ·  3 running / 12`."""

    def __init__(self, facts: HostFacts | None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.facts = facts
        self.counts: Counter[InstanceState] = Counter()
        self.total = 0
        self.serve = ""  # the address `lecs serve` answers on, "" when it does not run

    def set_serve(self, address: str) -> None:
        if address != self.serve:
            self.serve = address
            self._draw()

    def on_mount(self) -> None:
        self._draw()

    def set_facts(self, facts: HostFacts) -> None:
        self.facts = facts
        self._draw()

    def set_instances(self, instances: Sequence[Instance]) -> None:
        counts = Counter(i.state for i in instances)
        if counts != self.counts or len(instances) != self.total:
            self.counts, self.total = counts, len(instances)
            self._draw()

    def _draw(self) -> None:
        f = self.facts
        parts = [Content.from_markup("[b]lecs[/b]")]
        if f is None:
            parts.append(Content("QEMU …"))
        else:
            accel_style = "$success" if f.accel == "kvm" else "$warning"
            parts += [
                Content(f.hostname),
                Content(f"QEMU {f.qemu_version}"),
                Content.from_markup(f"[{accel_style} b]$accel[/]", accel=f.accel.upper()),
                Content(f"{f.cpu_count} CPU {_gib(f.memory_mib)}"),
            ]
        running = self.counts.get(InstanceState.RUNNING, 0)
        errors = self.counts.get(InstanceState.ERROR, 0)
        summary = Content(f"{running} running / {self.total}")
        if errors:
            summary = summary + Content.from_markup(" [$error]· $n error[/]", n=str(errors))
        parts.append(summary)
        if self.serve:
            parts.append(Content.from_markup("[$success]serve[/] $at", at=self.serve))
        self.update(Content(" │ ").join(parts))
        if f is not None:
            self.tooltip = f"accelerator: {f.accel} ({f.accel_reason})"


PANES: tuple[tuple[str, str], ...] = (
    ("instances", "Instances"),
    ("images", "Images"),
    ("disks", "Disks"),
    ("security-groups", "Security groups"),
    ("metrics", "Metrics"),
    ("events", "Events"),
)
SHORT = {"security-groups": "SGs"}


class PaneBar(Static):
    """`1 Instances  2 Images …` with the current pane highlighted; click to switch."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current = PANES[0][0]

    def on_mount(self) -> None:
        self.show(self.current)

    def on_resize(self) -> None:
        self.show(self.current)

    def show(self, pane: str) -> None:
        self.current = pane
        narrow = self.size.width and self.size.width < 100
        items = []
        for number, (key, label) in enumerate(PANES, start=1):
            text = SHORT.get(key, label) if narrow else label
            style = "reverse b" if key == pane else "$text-muted"
            items.append(Content.from_markup(
                f"[@click=app.show_pane('{key}')][b]{number}[/b] [{style}] $label [/][/]",
                label=text,
            ))
        self.update(Content(" ").join(items))
