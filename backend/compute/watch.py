"""Learn of instance state changes from QEMU's QMP events as they happen.

QEMU serves one client per monitor socket: the ops socket (`qmp.sock`) is busy with short
sessions from the CLI and the dashboard's poll, and `events.sock` is held by the metrics
sampler (backend/monitoring/qemu_local.py), so a listener on either would lock the other out.
Each instance therefore has a third monitor, `watch.sock`, for this alone: a watcher holds it
for the instance's whole life and relays the events that mean "the state may have changed".
A second watcher (another dashboard) cannot get that socket while the first holds it; it
keeps retrying quietly and takes over when the first lets go. QEMUs started before lecs had
`watch.sock` have none: the dashboard's poll still sees their changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from qemu.qmp import QMPClient, Runstate

from backend.drivers.qemu.monitor import quiet_disconnect

logging.getLogger("qemu.qmp").setLevel(logging.CRITICAL)

WATCH_SOCKET = "watch.sock"
RETRY_SECONDS = 5.0  # a failed connect is retried at most this often while the id is tracked
DISCONNECTED = "DISCONNECTED"  # reported once when QEMU closes the socket (it exited)
STATE_EVENTS = frozenset({
    "SHUTDOWN", "POWERDOWN", "RESET", "STOP", "RESUME", "SUSPEND", "SUSPEND_DISK", "WAKEUP",
    "GUEST_PANICKED", "GUEST_CRASHLOADED", "DEVICE_DELETED", "BLOCK_JOB_COMPLETED",
    "BLOCK_JOB_ERROR", "JOB_STATUS_CHANGE",
})


class InstanceWatcher:
    """Listens on each watched instance's QMP event socket and reports state events."""

    def __init__(
        self, rundir: Callable[[str], Path], changed: Callable[[str, str], None], *,
        connect_timeout: float = 2.0,
    ) -> None:
        self._rundir = rundir
        self._changed = changed
        self._connect_timeout = connect_timeout
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._next_try: dict[str, float] = {}  # loop time before which no connect starts
        self._watching: set[str] = set()

    def track(self, instance_ids: Iterable[str]) -> None:
        """Watch exactly these ids from now on: start a task for new ones, cancel tasks of ids
        no longer listed. Sync; must be called on the running asyncio loop.

        An id whose watch ended (its QEMU exited) counts as new, so an instance that is
        started again is watched again."""
        wanted = set(instance_ids)
        for instance_id in set(self._tasks) - wanted:
            self._tasks.pop(instance_id).cancel()
            self._next_try.pop(instance_id, None)
            self._watching.discard(instance_id)
        for instance_id in wanted:
            task = self._tasks.get(instance_id)
            if task is None or task.done():
                self._tasks[instance_id] = asyncio.get_running_loop().create_task(
                    self._watch(instance_id), name=f"lecs-watch-{instance_id}"
                )

    @property
    def watching(self) -> set[str]:
        """Ids whose event socket is connected now."""
        return set(self._watching)

    async def close(self) -> None:
        """Cancel all tasks and disconnect; never raises."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._next_try.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watching.clear()

    async def _watch(self, instance_id: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.0, self._next_try.get(instance_id, 0.0) - loop.time()))
            self._next_try[instance_id] = loop.time() + RETRY_SECONDS
            client = QMPClient(f"lecs-watch-{instance_id}")
            try:
                if await self._connect(client, instance_id):
                    self._watching.add(instance_id)
                    await self._relay(instance_id, client)
                    break
            finally:
                self._watching.discard(instance_id)
                await quiet_disconnect(client)
        self._report(instance_id, DISCONNECTED)

    async def _connect(self, client: QMPClient, instance_id: str) -> bool:
        """False when the socket is missing, refuses, or is held by another client."""
        try:
            path = self._rundir(instance_id) / WATCH_SOCKET
            await asyncio.wait_for(client.connect(str(path)), self._connect_timeout)
        except Exception:  # OSError, TimeoutError, qemu.qmp's ConnectError
            return False
        return True

    async def _relay(self, instance_id: str, client: QMPClient) -> None:
        """Report state events until QEMU closes the connection."""

        async def pump() -> None:
            async for event in client.events:
                self._report_event(instance_id, str(event["event"]))

        pumping = asyncio.create_task(pump())
        try:
            while client.runstate is Runstate.RUNNING:
                await client.runstate_changed()
        finally:
            pumping.cancel()
            await asyncio.gather(pumping, return_exceptions=True)
        for event in client.events.clear():  # read before the hang-up, not yet relayed
            self._report_event(instance_id, str(event["event"]))

    def _report_event(self, instance_id: str, name: str) -> None:
        if name in STATE_EVENTS:
            self._report(instance_id, name)

    def _report(self, instance_id: str, name: str) -> None:
        try:
            self._changed(instance_id, name)
        except Exception:  # a listener's bug must not end the watch
            pass
