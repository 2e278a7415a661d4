"""Long-running operations in flight: a tracker, and the bar that shows them with progress."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass(slots=True)
class Operation:
    id: int
    action: str  # e.g. instance.create
    resource: str  # a name or id
    started: float
    fraction: float | None = None  # known progress, 0..1
    detail: str = ""
    cancel: Callable[[], None] | None = None  # set for operations that can be cancelled

    @property
    def label(self) -> str:
        verb = self.action.split(".")[-1]
        return f"{verb} {self.resource}"


@dataclass(slots=True)
class Operations:
    """What is running now; `changed` is called on every begin, progress and end."""

    clock: Callable[[], float] = time.monotonic
    running: dict[int, Operation] = field(default_factory=dict)
    changed: Callable[[], None] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def begin(
        self, action: str, resource: str, cancel: Callable[[], None] | None = None
    ) -> Operation:
        op = Operation(next(self._ids), action, resource, self.clock(), cancel=cancel)
        self.running[op.id] = op
        self._notify()
        return op

    def progress(self, op: Operation, fraction: float, detail: str = "") -> None:
        op.fraction = max(0.0, min(1.0, fraction))
        op.detail = detail
        self._notify()

    def end(self, op: Operation) -> None:
        self.running.pop(op.id, None)
        self._notify()

    def elapsed(self, op: Operation) -> float:
        return self.clock() - op.started

    def _notify(self) -> None:
        if self.changed is not None:
            self.changed()


def bar(fraction: float, width: int = 10) -> str:
    full = round(fraction * width)
    return "█" * full + "░" * (width - full)


class OpsBar(Static):
    """One line above the footer while operations run: spinner, label, elapsed or progress."""

    def __init__(self, ops: Operations, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ops = ops
        self._tick = 0
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self.display = False

    def sync(self) -> None:
        busy = bool(self.ops.running)
        self.display = busy
        if busy and self._timer is None:
            self._timer = self.set_interval(0.2, self._draw)
        elif not busy and self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._draw()

    def _draw(self) -> None:
        self._tick += 1
        frame = SPINNER[self._tick % len(SPINNER)]
        parts = []
        for op in self.ops.running.values():
            if op.fraction is not None:
                tail = f"{bar(op.fraction)} {op.fraction:4.0%}"
                if op.detail and op.detail != op.resource:  # a phase: download, convert
                    tail = f"{op.detail} {tail}"
            else:
                tail = f"{self.ops.elapsed(op):.1f}s"
            part = Content.from_markup(
                "[$warning]$frame[/] $label [$text-muted]$tail[/]",
                frame=frame, label=op.label, tail=tail,
            )
            if op.cancel is not None:  # click ✕ to cancel (X on the Images pane)
                part += Content.from_markup(f" [@click=app.cancel_op({op.id})]✕[/]")
            parts.append(part)
        self.update(Content("   ").join(parts))
