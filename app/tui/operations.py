"""The App's operations (a mixin): each backend call runs in a worker, shown in the ops bar
while it runs (with its progress, cancellable where it can be), and ends in a notice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import get_current_worker

from app.tui.widgets.ops import Operations, OpsBar
from backend.inventory.errors import LecsError

if TYPE_CHECKING:
    from textual.app import App

    from app.tui.panes.base import Pane

    AppBase = App[None]
else:
    AppBase = object  # a mixin of LecsApp: no second App subclass to build at start


class OperationRunner(AppBase):
    ops: Operations
    pane_name: str

    if TYPE_CHECKING:
        @property
        def current_pane(self) -> Pane: ...

        def refresh_soon(self) -> None: ...

    @work(group="ops", exit_on_error=False, description="operation")
    async def run_op(
        self, action: str, resource: str, call: Callable[..., Any], *args: Any,
        progress: bool = False, cancellable: bool = False, **kwargs: Any,
    ) -> None:
        op = self.ops.begin(action, resource,
                            cancel=get_current_worker().cancel if cancellable else None)
        if progress:
            loop = asyncio.get_running_loop()
            kwargs["progress"] = lambda fraction, label: loop.call_soon_threadsafe(
                self.ops.progress, op, fraction, label)
        started = time.monotonic()
        verb = action.split(".")[-1]
        try:
            result = call(*args, **kwargs)
            if isinstance(result, Awaitable):
                await result
        except LecsError as exc:
            self.notify(str(exc), title=f"{verb} {resource} failed", severity="error", timeout=8)
        except asyncio.CancelledError:
            self.notify(f"{verb} {resource}: cancelled", title=action, severity="warning")
            raise
        else:
            self.notify(f"{verb} {resource}: done in {time.monotonic() - started:.1f}s",
                        title=action)
        finally:
            self.ops.end(op)
            self.refresh_soon()

    def _ops_changed(self) -> None:
        for bar in self.query(OpsBar):
            bar.sync()
        if self.is_running and self.pane_name == "events" and self.current_pane.is_mounted:
            self.current_pane.refresh_data()
