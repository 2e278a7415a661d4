"""The sampler on real QEMU: a busy loop in the guest drives cpu_util and an alarm, a dd
shows in the disk write rate; one sampler per inventory."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable

import pytest

from backend import Cloud
from backend.drivers.qemu.counters import balloon_memory, net_dev_counters, tap_name
from backend.inventory.errors import ConflictError
from backend.inventory.paths import Paths
from backend.monitoring.records import AlarmChange, AlarmState
from tests.qemu_probe import serial_run
from tests.test_cli import lecs

INTERVAL = 0.25  # sampling interval of these tests (the dashboard uses 1 s)
PERIOD = 2.0


async def until(check: Callable[[], bool], timeout: float) -> float:
    """Seconds until `check()` holds; fails after `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not reached within {timeout}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.qemu
async def test_busy_loop_alarm_and_disk_writes(cloud: Cloud) -> None:
    inst = await cloud.instances.create("mon1", "tiny", "t1.nano", wait=True,
                                        wait_timeout=90)
    data = await cloud.disks.create("mon1-data", 1)
    await cloud.disks.attach(data.id, inst.id)
    rundir = inst.runtime_dir
    changes: list[AlarmChange] = []
    cloud.alarms.subscribe(changes.append)
    alarm = cloud.alarms.create("mon1-cpu", "mon1", "cpu_util", ">", 50, period=PERIOD)

    def state() -> AlarmState:
        return cloud.alarms.get(alarm.id).state

    cloud.metrics.start(INTERVAL)
    try:
        # an idle guest for a whole period first: OK (the boot's tail may still be busy)
        await until(lambda: cloud.metrics.status().ticks > 2 * PERIOD / INTERVAL, 30)
        await until(lambda: state() is AlarmState.OK, 30)
        idle = cloud.metrics.latest()[inst.id].values
        assert idle["cpu_util"] is not None and idle["cpu_util"] < 50
        assert idle["qemu_rss_bytes"] and idle["qemu_rss_bytes"] > 20 << 20
        assert idle["mem_util"] is None or 0 < idle["mem_util"] <= 100  # n/a, never fake 0
        assert idle["network_incoming_bytes_rate"] is None  # user-mode networking: n/a

        await serial_run(rundir, "while :; do :; done & echo BUSY-$((6*7))", "BUSY-42")
        to_alarm = await until(lambda: state() is AlarmState.ALARM, 3 * PERIOD)
        await asyncio.sleep(1.0)
        busy = [v for _t, v in cloud.metrics.series(inst.id, "cpu_util", 1.0, 1) if v]
        assert max(busy) > 50  # ~100 % on an idle host; CI load may take some: the threshold
        await serial_run(rundir, "kill $! ; echo STOP-$((6*7))", "STOP-42")
        to_ok = await until(lambda: state() is AlarmState.OK, 3 * PERIOD)
        print(f"busy -> ALARM {to_alarm:.2f}s, stop -> OK {to_ok:.2f}s (period {PERIOD}s)")
        assert to_alarm <= PERIOD + 0.5 and to_ok <= PERIOD + 0.5
        assert [(c.old, c.new) for c in changes][-2:] == [
            (AlarmState.OK, AlarmState.ALARM), (AlarmState.ALARM, AlarmState.OK)]
        events = [e for e in cloud.audit.list(alarm.id) if e.action == "alarm.state-change"]
        assert [e.parameters["to"] for e in events][:2] == ["ok", "alarm"]

        # 100 x 64 KiB of direct writes to the data disk show in the write rate
        await serial_run(rundir, "while [ ! -b /dev/vdb ]; do sleep 1; done; echo VDB-$((6*7))",
                         "VDB-42", timeout=30)
        t0 = cloud.metrics.latest()[inst.id].t
        await serial_run(rundir, "dd if=/dev/zero of=/dev/vdb bs=64k count=100 oflag=direct"
                         " 2>/dev/null; echo DD-$((6*7))", "DD-42", timeout=30)
        await asyncio.sleep(3 * INTERVAL)
        points = cloud.metrics.history.raw(inst.id, "disk_write_bytes_rate", t0)
        written = sum((b[0] - a[0]) * (b[1] or 0) for a, b in zip(points, points[1:],
                                                                  strict=False))
        assert 0.8 * 6_553_600 <= written <= 1.5 * 6_553_600, written
        ops = cloud.metrics.series(inst.id, "disk_write_requests_rate", 10, 1, stat="max")
        assert max(v or 0 for _t, v in ops) > 10
    finally:
        await cloud.metrics.stop()
    assert cloud.metrics.history.counts()["buffered"] == 0  # stop() flushed
    # the CLI in another process reads that history (no sampler runs now)
    shown = json.loads(lecs(cloud.paths.home, "metric", "show", "mon1", "--since", "2m",
                            "--json").stdout)
    assert shown["resource"] == inst.id and shown["sampler"]["pid"] is None
    assert shown["metrics"]["cpu_util"]["max"] > 50
    assert shown["metrics"]["disk_write_bytes_rate"]["max"] > 0
    assert shown["metrics"]["network_incoming_bytes_rate"]["latest"] is None


async def test_one_sampler_per_inventory(bare_cloud: Cloud) -> None:
    other = Cloud(Paths.from_env(str(bare_cloud.paths.home)))
    try:
        bare_cloud.metrics.start(0.1)
        await until(lambda: bare_cloud.metrics.status().ticks >= 2, 10)
        assert bare_cloud.metrics.status().here
        with pytest.raises(ConflictError, match=f"process {os.getpid()} is sampling"):
            other.metrics.start(0.1, require_lead=True)
        other.metrics.start(0.1)  # follows: no sampling, retries the lock each tick
        await asyncio.sleep(0.3)
        status = other.metrics.status()
        assert not status.here and status.holder_pid == os.getpid() and status.ticks == 0
        await bare_cloud.metrics.stop()  # flushes host samples, releases the lock
        assert "host" in other.metrics.latest()  # read back from SQLite
        await until(lambda: other.metrics.status().ticks >= 1, 10)  # takes over
        assert other.metrics.status().here and not bare_cloud.metrics.status().here
        host = other.metrics.host()
        assert host is not None and host.values["host_mem_util"] is not None
        assert 0 < host.values["host_mem_util"] < 100  # type: ignore[operator]
    finally:
        await other.metrics.stop()
        other.close()


@pytest.mark.qemu
@pytest.mark.skipif(os.geteuid() != 0, reason="bridge mode needs root")
@pytest.mark.skipif(not all(shutil.which(t) for t in ("ip", "nft", "dnsmasq")),
                    reason="bridge mode needs iproute2, nftables and dnsmasq-base")
async def test_bridge_mode_nic_counters(cloud: Cloud) -> None:
    netns = "lecs-mon-" + secrets.token_hex(3)
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        cloud.networks.create("monlan", "10.78.0.0/24", netns=netns)
        inst = await cloud.instances.create("mon2", "tiny", "t1.nano", network="monlan",
                                            wait=True, wait_timeout=90)
        cloud.metrics.start(INTERVAL)
        try:
            await until(lambda: inst.id in cloud.metrics.latest(), 30)
            assert cloud.metrics.latest()[inst.id].values["network_outgoing_bytes_rate"] \
                is not None  # the tap's counters, read in QEMU's network namespace
            t0 = cloud.metrics.latest()[inst.id].t
            await serial_run(inst.runtime_dir, "ping -c 20 -i 0.1 -s 1000 10.78.0.1"
                             " >/dev/null 2>&1; echo PING-$((6*7))", "PING-42", timeout=30)
            await asyncio.sleep(3 * INTERVAL)
            points = cloud.metrics.history.raw(inst.id, "network_outgoing_bytes_rate", t0)
            sent = sum((b[0] - a[0]) * (b[1] or 0) for a, b in zip(points, points[1:],
                                                                   strict=False))
            assert sent >= 20 * 1000, sent  # 20 echo requests of 1000 bytes (and more)
            incoming = cloud.metrics.series(inst.id, "network_incoming_bytes_rate", 10, 1)
            assert all(v is not None for _t, v in incoming)
        finally:
            await cloud.metrics.stop()
        await cloud.instances.delete(inst.id)
        cloud.networks.delete("monlan")
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def test_counter_parsing_never_fakes_zero() -> None:
    unreported = {"stats": {"stat-total-memory": -1, "stat-free-memory": -1}, "last-update": 0}
    assert balloon_memory(unreported) == (None, None)
    reported = {"stats": {"stat-total-memory": 100, "stat-available-memory": 40,
                          "stat-free-memory": 30}, "last-update": 1700000000}
    assert balloon_memory(reported) == (100, 40)
    assert tap_name(" \\ n0: index=0,type=user,net=10.0.2.0,restrict=off") is None
    assert tap_name(" \\ n0: index=0,type=tap,ifname=ltp-abc,script=no") == "ltp-abc"
    dev = ("Inter-|   Receive  |  Transmit\n face |bytes packets errs drop fifo frame"
           " compressed multicast|bytes packets\n"
           "ltp-abc: 5000 10 0 0 0 0 0 0 7000 12 0 0 0 0 0 0\n")
    assert net_dev_counters(dev, "ltp-abc") == (7000, 5000)  # guest in = tap transmit
    assert net_dev_counters(dev, "eth9") == (None, None)
