"""One audit event in full (enter on the Events pane): every field, the parameters as
indented JSON and the whole error, which the table's one line cuts."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from app.tui.widgets.cells import when
from app.tui.widgets.guard import Guarded
from backend.inventory.records import Event


def event_text(event: Event, resource_name: str = "") -> str:
    """The event as lines of `field  value` (Rich markup, values escaped)."""
    resource = event.resource + (f" ({resource_name})" if resource_name and
                                 resource_name != event.resource else "")
    result = "[$success]success[/]" if event.result == "success" else \
        f"[$error]{escape(event.result)}[/]"
    fields = [("time", when(event.time)), ("action", escape(event.action)),
              ("resource", escape(resource)), ("result", result),
              ("took", f"{event.duration_ms:.0f} ms"), ("user", escape(event.user))]
    lines = [f"[b]{name:<9}[/b]{value}" for name, value in fields]
    if event.error:
        lines += ["", "[b]error[/b]", f"[$error]{escape(event.error)}[/]"]
    params = json.dumps(event.parameters, indent=2, sort_keys=True, default=str)
    lines += ["", "[b]parameters[/b]", escape(params)]
    return "\n".join(lines)


class EventDetailScreen(Guarded, ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "dismiss", "Close", tooltip="Close the event"),
    ]

    def __init__(self, event: Event, resource_name: str = "") -> None:
        super().__init__(classes="modal")
        self.event = event
        self.resource_name = resource_name

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="event-dialog"):
            yield Static(f"[b]Event {self.event.id}[/b] · esc closes", classes="dialog-title")
            yield Static(event_text(self.event, self.resource_name), id="event-text")

    def on_mount(self) -> None:
        self.query_one("#event-dialog").focus()
