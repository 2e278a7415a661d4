"""The App's live data (a mixin): a poll that never overlaps itself, nudged by QMP events and
by operations that ended; the reads run in the live thread (app/tui/live_inventory.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.timer import Timer

from app.tui.live_inventory import LiveInventory
from app.tui.widgets.header import HostHeader
from backend.compute.records import Instance
from backend.inventory.records import InstanceState

if TYPE_CHECKING:
    from textual.app import App

    from app.tui.panes.base import Pane

    AppBase = App[None]
else:
    AppBase = object  # a mixin of LecsApp: no second App subclass to build at start

POLL_INTERVAL = 0.5


class InventoryPoll(AppBase):
    live: LiveInventory
    instances: list[Instance]
    version: int  # bumped whenever `instances` changes
    poll_interval: float
    _poll_timer: Timer | None = None
    _polling = False  # a read is in flight
    _poll_again = False  # a QMP event came during it: read again right after
    _last_error = ""  # the last worker error shown (app/tui/notices.py)

    if TYPE_CHECKING:
        @property
        def current_pane(self) -> Pane: ...

    def _schedule_poll(self, delay: float | None = None) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(delay or self.poll_interval, self.poll)

    @work(exclusive=True, exit_on_error=False, group="poll", description="refresh inventory")
    async def poll(self) -> None:
        """Read the inventory in the live thread (app/tui/live_inventory.py), then show it."""
        self._polling = True
        try:
            self._show(*await self.live.read())
        finally:
            self._polling = False
            again, self._poll_again = self._poll_again, False
            self._schedule_poll(0.01 if again else None)  # set_timer(0) never fires

    def refresh_soon(self) -> None:
        """Read the inventory again now (an operation ended, QMP events came), in the live
        thread like every read; if a read is in flight, right after it."""
        if self._polling:
            self._poll_again = True
        else:
            self._schedule_poll(0.01)

    def _show(self, number: int, instances: list[Instance]) -> None:
        if not self.live.accept(number):  # an older read than the one on screen
            return
        self.live.watch(instances)
        if instances != self.instances:
            self._announce(instances)
            self.instances = instances
            self.version += 1
        header = self.query_one(HostHeader)
        header.set_instances(instances)
        header.set_serve(self.live.serve)  # where `lecs serve` answers, read with the rows
        self._last_error = ""
        pane = self.current_pane
        if len(self.screen_stack) == 1 and pane.is_mounted:  # not under a modal or console
            pane.refresh_data()

    def _announce(self, instances: list[Instance]) -> None:
        before = {i.id: i.state for i in self.instances}
        for inst in instances:
            was = before.get(inst.id)
            if was is not None and was != inst.state and inst.state is InstanceState.ERROR:
                self.notify(inst.last_error or "entered the error state",
                            title=f"{inst.name}: error", severity="error", timeout=10)
