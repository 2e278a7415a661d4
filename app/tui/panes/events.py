"""Events (Cloud Trace): the audit trail, newest first, with operations still in flight on top."""

from __future__ import annotations

from app.tui.panes.base import Pane
from app.tui.widgets.cells import params_text, when
from app.tui.widgets.vtable import Column, Row, VirtualTable
from backend.inventory.records import Event

KEEP = 2000


def took(ms: float) -> str:
    return f"{ms:.0f}ms" if ms < 1000 else f"{ms / 1000:.1f}s"


def event_row(event: Event, names: dict[str, str]) -> Row:
    resource = names.get(event.resource, event.resource)
    cells = (
        when(event.time), event.action, resource, event.result,
        took(event.duration_ms), event.user, params_text(event),
    )
    styles = ("muted", "", "", "ok" if event.result == "success" else "bad", "", "muted",
              "bad" if event.error else "muted")
    fields = {"action": event.action, "resource": resource, "result": event.result,
              "user": event.user, "id": event.resource}
    return Row(f"ev{event.id}", cells, styles, fields,
               haystack=" ".join((*cells, event.resource)).lower())


class EventsPane(Pane):
    NAME = "events"
    TITLE = "Events"
    NEWEST_FIRST = True
    EMPTY = "No events yet: every create, start, stop and delete is recorded here."
    COLUMNS = [
        Column("time", "TIME", 14, 14),
        Column("action", "ACTION", 16, 20),
        Column("resource", "RESOURCE", 12, 24),
        Column("result", "RESULT", 7, 8),
        Column("duration", "TOOK", 5, 8, priority=2, align_right=True),
        Column("user", "USER", 4, 12, priority=3),
        Column("detail", "PARAMETERS / ERROR", 10, 120, priority=1, flex=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        self._ops_shown = False
        self._names: dict[str, str] = {}

    def refresh_data(self) -> None:
        since = self.events[0].id if self.events else 0
        fresh = self.lecs.cloud.audit.list(limit=KEEP, since_id=since)
        if fresh:
            self.events = (fresh + self.events)[:KEEP]
        elif not self.lecs.ops.running and not self._ops_shown and self.table.rows:
            return  # nothing new: keep the rows (and the cursor) as they are
        self._ops_shown = bool(self.lecs.ops.running)
        names = {i.id: i.name for i in self.lecs.cloud.images.list()}
        names.update({i.id: i.name for i in self.lecs.instances})
        self._names = names
        rows = [self._op_row(op_id) for op_id in self.lecs.ops.running]
        rows += [event_row(e, names) for e in self.events]
        self.set_rows(rows)

    def on_virtual_table_selected(self, message: VirtualTable.Selected) -> None:
        """Enter on an event: the whole event (the row cuts its parameters)."""
        from app.tui.screens.event_detail import EventDetailScreen

        event = next((e for e in self.events if f"ev{e.id}" == message.key), None)
        if event is not None:
            self.app.push_screen(EventDetailScreen(event, self._names.get(event.resource, "")))

    def _op_row(self, op_id: int) -> Row:
        op = self.lecs.ops.running[op_id]
        if op.fraction is not None:
            took = f"{op.fraction:.0%}"
        else:
            took = f"{self.lecs.ops.elapsed(op):.1f}s"
        cells = ("now", op.action, op.resource, "running", took, "", op.detail or "in progress…")
        styles = ("busy", "", "", "busy", "", "", "muted")
        return Row(f"op{op.id}", cells, styles, {"action": op.action, "result": "running"})
