"""Notices of the App (a mixin): a toast, or while a dialog is open a line above it
(widgets/dialog_notice.py), never over the dialog's fields and buttons; a worker that failed
becomes one notice (a failing poll reports once, not twice a second)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.worker import Worker, WorkerState

from backend.inventory.errors import LecsError

if TYPE_CHECKING:
    from textual.app import App

    AppBase = App[None]
else:
    AppBase = object  # a mixin of LecsApp: no second App subclass to build at start


class Notices(AppBase):
    _last_error: str = ""  # the last worker error shown

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A toast, or while a dialog is open a line above it: never over its controls."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
        screen = self.screen_stack[-1] if self.screen_stack else None
        if isinstance(screen, ModalScreen) and screen.has_class("modal"):
            from app.tui.widgets.dialog_notice import DialogNotice

            notices = screen.query(DialogNotice)
            notice = notices.first() if notices else DialogNotice()
            if not notices:
                screen.mount(notice)
            notice.show(message, title, severity, timeout, markup)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        message = str(error) if isinstance(error, LecsError) else f"{type(error).__name__}: {error}"
        if message != self._last_error:  # a failing poll reports once, not twice a second
            self._last_error = message
            self.notify(message, title=event.worker.description or "error", severity="error")
