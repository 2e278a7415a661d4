"""Notifications while a dialog is open: one line above it instead of toasts over it.

Textual's toasts stack at the bottom right, where an 80×24 dialog has its buttons (and the
tags dialog its input). While a modal dialog is on top, themes/dialogs.tcss hides the toasts
and the App puts the newest notice here, docked to the screen's top line, outside the dialog;
the toasts still there show once the dialog closes.
"""

from __future__ import annotations

from rich.markup import escape
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Static

from app.tui.widgets.guard import Guarded

DEFAULT_TIMEOUT = 5.0


class DialogNotice(Guarded, Static):
    DEFAULT_CSS = """
    DialogNotice {
        dock: top;
        height: 1;
        width: 1fr;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        background: $panel;
        color: $foreground;
    }
    DialogNotice.-error { color: $text-error; text-style: bold; }
    DialogNotice.-warning { color: $text-warning; }
    """

    def __init__(self) -> None:
        super().__init__("", id="dialog-notice", markup=True)
        self._timer: Timer | None = None

    def show(self, message: str, title: str, severity: SeverityLevel,
             timeout: float | None, markup: bool = True) -> None:
        text = " ".join(message.split()) if markup else escape(" ".join(message.split()))
        self.update(f"[b]{escape(title)}[/b]: {text}" if title else text)
        self.set_class(severity == "error", "-error")
        self.set_class(severity == "warning", "-warning")
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(timeout or DEFAULT_TIMEOUT, self._clear)

    def _clear(self) -> None:
        self.update("")
        self.remove_class("-error", "-warning")
