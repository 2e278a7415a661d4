"""The dashboard's live view of the inventory: reads off the UI loop, QMP events as nudges.

- Reads (list + reconcile: SQLite, pidfiles, ~25 ms for 1,000 instances) run in one worker
  thread with its own `Cloud` (`Cloud.reader()`: its own SQLite connection), so a poll never
  holds the UI loop. Each read takes a number when it starts; a result older than the one
  on screen is dropped (a poll cancelled while its read ran must not undo a newer one).
- QEMU's QMP events (`Cloud.watcher()`, backend/compute/watch.py) on the instances whose
  QEMU runs ask for a read at once, so a guest that powers off, a QEMU that is killed or a
  CLI in another terminal shows in well under the poll interval. A burst of events is one
  read: nudges due within 50 ms of one another are one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from backend.compute.records import Instance
from backend.inventory.records import InstanceState

if TYPE_CHECKING:
    from backend import Cloud
    from backend.compute.watch import InstanceWatcher

S = InstanceState
WATCHED = frozenset({S.STARTING, S.RUNNING, S.STOPPING, S.REBOOTING})  # QEMU is up
SOON = 0.02  # a QMP event → read this soon
SETTLE = 0.3  # after QEMU hung up, read once more: its pidfile may outlive the socket a bit
TOGETHER = 0.05  # nudges due this close together are one read


class LiveInventory:
    def __init__(self, cloud: Cloud, *, reconcile: bool, read_soon: Callable[[], None]) -> None:
        """`read_soon()`: the app reads the inventory again at once (QMP events came)."""
        self.cloud = cloud
        self.reconcile = reconcile
        self.read_soon = read_soon
        self._nudges: dict[float, asyncio.TimerHandle] = {}  # loop time due → its call
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lecs-inventory")
        self._reader: Cloud | None = None  # made, used and closed in that thread only
        self._started = 0  # number of the newest read started
        self._shown = 0  # number of the read whose result is on screen
        self._watcher: InstanceWatcher | None = None
        self.serve = ""  # where `lecs serve` answers ("" if it does not run), as of the last read

    # ---- reads -----------------------------------------------------------------------
    async def read(self) -> tuple[int, list[Instance]]:
        """List (and reconcile) in the worker thread; returns (number, instances)."""
        number = self._take()
        loop = asyncio.get_running_loop()
        return number, await loop.run_in_executor(self._thread, self._list_in_thread)

    def accept(self, number: int) -> bool:
        """Whether read `number` is newer than what is shown (then it is shown)."""
        if number < self._shown:
            return False
        self._shown = number
        return True

    def _take(self) -> int:
        self._started += 1
        return self._started

    def _list_in_thread(self) -> list[Instance]:
        from backend.api.presence import running as serve_running

        if self._reader is None:
            self._reader = self.cloud.reader()
        serve = serve_running(self.cloud.paths)  # a file and /proc: here, off the UI loop
        self.serve = serve.address if serve else ""
        return self._reader.instances.list(reconcile=self.reconcile)

    def _close_in_thread(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # ---- QMP events ------------------------------------------------------------------
    def watch(self, instances: Iterable[Instance]) -> None:
        """Listen to the QEMUs of these instances that run (call on the UI loop)."""
        if not self.reconcile:  # a demo inventory: no QEMU behind it
            return
        if self._watcher is None:
            self._watcher = self.cloud.watcher(self._event)
        self._watcher.track(i.id for i in instances if i.state in WATCHED)

    @property
    def watching(self) -> set[str]:
        return self._watcher.watching if self._watcher is not None else set()

    def _event(self, instance_id: str, event: str) -> None:
        self.nudge(SOON)
        if event == "DISCONNECTED":
            self.nudge(SETTLE)

    def nudge(self, delay: float) -> None:
        """Ask for a read in `delay` s, unless one is due about then already."""
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        if any(abs(pending - due) < TOGETHER for pending in self._nudges):
            return
        self._nudges[due] = loop.call_later(delay, self._nudged, due)

    def _nudged(self, due: float) -> None:
        del self._nudges[due]
        self.read_soon()

    async def close(self) -> None:
        for handle in self._nudges.values():
            handle.cancel()
        self._nudges.clear()
        if self._watcher is not None:
            await self._watcher.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close_in_thread)
        self._thread.shutdown(wait=False)
