"""InstanceWatcher on real QEMU: events from the dedicated watch.sock, one client at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from backend import Cloud
from backend.compute.watch import InstanceWatcher

pytestmark = pytest.mark.qemu


class Recorder:
    """The `changed` callback: remembers every call and lets a test wait for one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._arrived = asyncio.Event()

    def __call__(self, instance_id: str, name: str) -> None:
        self.calls.append((instance_id, name))
        self._arrived.set()

    def names(self, instance_id: str) -> list[str]:
        return [name for iid, name in self.calls if iid == instance_id]

    async def wait_for(self, instance_id: str, names: set[str], timeout: float = 3.0) -> str:
        async def seen() -> str:
            while True:
                found = [n for n in self.names(instance_id) if n in names]
                if found:
                    return found[0]
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(seen(), timeout)


async def until(condition: Callable[[], bool], timeout: float) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def watched(
    cloud: Cloud, name: str, wait: bool = False
) -> tuple[str, InstanceWatcher, Recorder]:
    inst = await cloud.instances.create(name, "tiny", "t1.micro", wait=wait)
    recorder = Recorder()
    watcher = InstanceWatcher(cloud.driver.rundir, recorder)
    watcher.track([inst.id])
    await until(lambda: inst.id in watcher.watching, 3.0)
    return inst.id, watcher, recorder


async def test_force_stop_reports_disconnected(cloud: Cloud) -> None:
    iid, watcher, recorder = await watched(cloud, "w1")
    assert watcher.watching == {iid}
    assert recorder.calls == []  # connecting alone reports nothing
    await cloud.instances.force_stop(iid)
    await recorder.wait_for(iid, {"DISCONNECTED"})
    names = recorder.names(iid)
    assert names.count("DISCONNECTED") == 1 and names[-1] == "DISCONNECTED"
    assert set(names) <= {"SHUTDOWN", "DISCONNECTED"}, names
    assert watcher.watching == set()
    await watcher.close()


async def test_clean_stop_reports_shutdown(cloud: Cloud) -> None:
    iid, watcher, recorder = await watched(cloud, "w2", wait=True)  # acpid handles the button
    await cloud.instances.stop(iid)
    await recorder.wait_for(iid, {"DISCONNECTED"})
    names = recorder.names(iid)
    assert names[-1] == "DISCONNECTED" and {"SHUTDOWN", "POWERDOWN"} & set(names[:-1]), names
    await watcher.close()


async def test_reboot_reports_reset_and_stays_watched(cloud: Cloud) -> None:
    iid, watcher, recorder = await watched(cloud, "w3")
    await cloud.instances.reboot(iid)
    assert await recorder.wait_for(iid, {"RESET"}) == "RESET"
    await asyncio.sleep(0.2)  # a reset must not look like a hang-up
    assert watcher.watching == {iid}
    assert "DISCONNECTED" not in recorder.names(iid)
    await watcher.close()


async def test_second_watcher_waits_for_the_socket(cloud: Cloud) -> None:
    iid, first, first_calls = await watched(cloud, "w4")
    recorder = Recorder()
    second = InstanceWatcher(cloud.driver.rundir, recorder)
    second.track([iid])  # the socket is held: this must neither raise nor report
    await asyncio.sleep(2.5)  # longer than one connect timeout (2 s)
    assert second.watching == set()
    assert recorder.calls == []
    await first.close()
    assert first.watching == set() and first_calls.calls == []  # close() reports nothing
    await until(lambda: iid in second.watching, 6.0)
    assert recorder.calls == []
    await cloud.instances.reboot(iid)
    await recorder.wait_for(iid, {"RESET"})  # the newcomer really gets the events
    await second.close()


def pending_since(before: set[asyncio.Task[object]]) -> list[asyncio.Task[object]]:
    left = asyncio.all_tasks() - before - {asyncio.current_task()}
    return [t for t in left if not t.done()]


async def test_untrack_and_close_leave_no_tasks(cloud: Cloud) -> None:
    before = asyncio.all_tasks()
    iid, watcher, recorder = await watched(cloud, "w5")
    assert pending_since(before)  # the watch task and qemu.qmp's reader and writer
    watcher.track([])
    assert watcher.watching == set()
    await until(lambda: not pending_since(before), 1.0)  # the task and its client are gone
    await cloud.instances.force_stop(iid)  # QEMU exits: nobody may report it now
    await asyncio.sleep(0.2)
    assert recorder.calls == []
    watcher.track([iid])  # tracked again, but QEMU is gone: no connection, no report
    await asyncio.sleep(0.2)
    assert watcher.watching == set() and recorder.calls == []
    assert pending_since(before)  # a retrying watch task
    await watcher.close()
    assert pending_since(before) == []


async def test_missing_socket_is_not_an_error(tmp_path: Path) -> None:
    recorder = Recorder()
    watcher = InstanceWatcher(lambda iid: tmp_path / iid, recorder, connect_timeout=0.5)
    watcher.track(["i-nothere"])
    await asyncio.sleep(0.3)
    assert watcher.watching == set()
    assert recorder.calls == []
    await watcher.close()
    assert watcher.watching == set()
