"""What the list dialogs (key pairs, backups) share: a table over the App, and actions that go
through the App's `run_op` (audited, with progress) and re-read the list when they end."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.screen import ModalScreen
from textual.worker import Worker

from app.tui.widgets.guard import Guarded
from app.tui.widgets.vtable import VirtualTable

if TYPE_CHECKING:
    from app.tui.dashboard import Dashboard


class ListDialog(Guarded, ModalScreen[None]):
    def __init__(self) -> None:
        super().__init__(classes="modal")

    @property
    def lecs(self) -> Dashboard:
        return cast("Dashboard", self.app)

    @property
    def table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def on_mount(self) -> None:
        self.reload()
        self.table.focus()

    def reload(self) -> None:
        """Read the list again and show it."""
        raise NotImplementedError

    def _run(self, action: str, name: str, call: Callable[..., Any], *args: Any,
             **kwargs: Any) -> None:
        self._reload_after(self.lecs.run_op(action, name, call, *args, **kwargs))

    @work(group="list-dialog", exit_on_error=False, description="list")
    async def _reload_after(self, worker: Worker[None]) -> None:
        with contextlib.suppress(Exception):  # run_op reports its own failures
            await worker.wait()
        if self.is_attached:
            self.reload()

    def action_close(self) -> None:
        self.dismiss(None)
