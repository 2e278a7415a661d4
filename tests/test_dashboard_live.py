"""The dashboard stays live without a keypress: QMP events and a poll read off the UI loop.

These dashboards poll every 60 s, so whatever shows within a couple of seconds came through
QEMU's QMP events (backend/compute/watch.py → app/tui/live_inventory.py), not the poll.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.tui.app import LecsApp
from app.tui.live_inventory import LiveInventory
from backend import Cloud
from backend.inventory.records import InstanceState
from sample_data.demo import demo_clock, demo_facts
from tests.test_dashboard import wait_for

REPO = Path(__file__).resolve().parent.parent
S = InstanceState
SLOW_POLL = 60.0


def state_of(app: LecsApp, name: str) -> InstanceState | None:
    return {i.name: i.state for i in app.instances}.get(name)


def shown_state(app: LecsApp, instance_id: str) -> str | None:
    row = next((r for r in app.current_pane.table.rows if r.key == instance_id), None)
    return row.cells[2] if row else None


async def running(cloud: Cloud, name: str) -> str:
    inst = await cloud.instances.create(name, image="tiny", itype="t1.nano")
    assert inst.state is S.RUNNING
    return inst.id


@pytest.mark.qemu
async def test_a_killed_qemu_shows_as_error_at_once(cloud: Cloud) -> None:
    instance_id = await running(cloud, "live-1")
    app = LecsApp(cloud, poll_interval=SLOW_POLL, sampler=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: instance_id in app.live.watching, timeout=5)
        pid = cloud.instances.get(instance_id).pid
        assert pid is not None
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)  # QEMU crashes behind lecs's back
        await wait_for(pilot, lambda: shown_state(app, instance_id) == "error", timeout=5)
        assert time.monotonic() - killed < 5 < SLOW_POLL
        assert instance_id not in app.live.watching
    assert cloud.instances.get(instance_id, reconcile=False).state is S.ERROR


@pytest.mark.qemu
async def test_a_cli_stop_in_another_terminal_shows_at_once(cloud: Cloud) -> None:
    instance_id = await running(cloud, "live-2")
    app = LecsApp(cloud, poll_interval=SLOW_POLL, sampler=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: instance_id in app.live.watching, timeout=5)
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.main", "instance", "force-stop", "live-2",
            cwd=REPO, env={**os.environ, "LECS_HOME": str(cloud.paths.home)},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = await cli.communicate()
        assert cli.returncode == 0, err.decode()
        done = time.monotonic()
        await wait_for(pilot, lambda: state_of(app, "live-2") is S.STOPPED, timeout=5)
        assert time.monotonic() - done < 5 < SLOW_POLL
        assert shown_state(app, instance_id) == "stopped"
        # started again (from the dashboard's own engine): watched again
        await cloud.instances.start(instance_id)
        app.refresh_soon()
        await wait_for(pilot, lambda: instance_id in app.live.watching, timeout=5)


async def test_the_poll_reads_in_its_own_thread_and_connection(demo_cloud: Cloud) -> None:
    other = Cloud(demo_cloud.paths)  # a CLI in another terminal
    app = LecsApp(demo_cloud, clock=demo_clock, facts=demo_facts(), reconcile=False,
                  poll_interval=0.2)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            first = app.instances[0]
            other.instances.tag(first.id, {"seen": "by-the-poll"}, [])
            await wait_for(pilot, lambda: app.instances[0].tags.get("seen") == "by-the-poll",
                           timeout=5)
            threads = {t.name for t in threading.enumerate()}
            assert any(name.startswith("lecs-inventory") for name in threads)
            reader = app.live._reader
            assert reader is not None and reader.store.conn is not demo_cloud.store.conn
        assert app.live._reader is None  # closed in its thread when the app went
    finally:
        other.close()


async def test_an_older_read_never_replaces_a_newer_one(demo_cloud: Cloud) -> None:
    live = LiveInventory(demo_cloud, reconcile=False, read_soon=lambda: None)
    try:
        first, second = await asyncio.gather(live.read(), live.read())  # in start order
        assert second[0] > first[0] and second[1] == first[1]
        assert live.accept(second[0])
        assert not live.accept(first[0])  # the older result, shown last: dropped
        third, _ = await live.read()
        assert live.accept(third)
    finally:
        await live.close()


async def test_a_burst_of_events_is_one_read(demo_cloud: Cloud) -> None:
    reads: list[float] = []
    loop = asyncio.get_running_loop()
    live = LiveInventory(demo_cloud, reconcile=False, read_soon=lambda: reads.append(loop.time()))
    start = loop.time()
    for event in ("SHUTDOWN", "RESET", "STOP"):  # one burst …
        live._event("i-x", event)
    live._event("i-x", "DISCONNECTED")  # … then the hang-up: once more, a little later
    await asyncio.sleep(0.5)
    assert len(reads) == 2
    assert reads[0] - start < 0.1 < 0.25 < reads[1] - start
    live.nudge(10.0)
    await live.close()  # a pending nudge goes with it
    assert live._nudges == {}
