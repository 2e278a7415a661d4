"""The serial console of a running instance inside the dashboard; `ctrl+]` detaches."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from app.tui.widgets.guard import Guarded
from app.tui.widgets.terminal import Terminal
from backend.compute.console import open_serial
from backend.compute.records import Instance
from backend.inventory.errors import LecsError


class ConsoleScreen(Guarded, Screen[None]):
    TAKES_KEYS = True  # the App's keys (? q / …) go to the guest here, and leave the footer
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+right_square_bracket", "detach", "Detach", priority=True,
                tooltip="Detach from the console, back to the dashboard (every other key,"
                        " ? and q too, goes to the guest; ctrl+q still quits)"),
    ]

    def __init__(self, instance: Instance) -> None:
        super().__init__()
        self.instance = instance
        self.writer: asyncio.StreamWriter | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            f"[b]Serial console[/b] · {self.instance.name} ({self.instance.id}) · "
            "connecting… · [b]ctrl+][/b] detaches",
            id="console-title", classes="pane-title",
        )
        yield Terminal(id="terminal")
        yield Footer()

    @property
    def terminal(self) -> Terminal:
        return self.query_one(Terminal)

    def on_mount(self) -> None:
        self.terminal.focus()
        self.attach()

    def _title(self, status: str) -> None:
        self.query_one("#console-title", Static).update(
            f"[b]Serial console[/b] · {self.instance.name} ({self.instance.id}) · {status} · "
            "[b]ctrl+][/b] detaches"
        )

    @work(exclusive=True, group="console", exit_on_error=False, description="serial console")
    async def attach(self) -> None:
        try:
            reader, writer = await open_serial(self.instance)
        except LecsError as exc:
            self.app.notify(str(exc), severity="error", title="console")
            self.dismiss()
            return
        self.writer = writer
        self.terminal.send = self._send
        self._title("attached")
        self._send(b"\r")  # the guest prints its prompt again: no blank screen on open
        try:
            while data := await reader.read(4096):
                self.terminal.feed(data)
        except OSError as exc:
            self._title(f"connection lost: {exc}")
            return
        self._title("closed: the guest's serial port went away")

    def _send(self, data: bytes) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(data)

    def on_terminal_detach(self) -> None:
        self.action_detach()

    def action_detach(self) -> None:
        self._close()
        self.dismiss()

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def on_unmount(self) -> None:
        self._close()
