"""An instance's whole life on real QEMU, each step checked against QMP and the process table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend import Cloud
from backend.inventory.errors import ConflictError, StateError
from backend.inventory.records import InstanceState as S
from tests.qemu_probe import http_get, passt_pids, qemu_pids, qmp_status

pytestmark = pytest.mark.qemu


async def test_guest_boots_and_serves_http_through_forward(cloud: Cloud) -> None:
    inst = await cloud.instances.create("web1", "tiny", "t1.micro", tags={"env": "test"})
    assert inst.state is S.RUNNING
    assert await qmp_status(inst.runtime_dir) == "running"
    seconds = await cloud.instances.wait_ready(inst.id, timeout=60)
    assert seconds < 60
    assert b"LECS-GUEST-READY" in (Path(inst.runtime_dir) / "serial.log").read_bytes()
    port = inst.port_for(80)
    assert port is not None
    assert "lecs" in http_get(port)
    for fwd in inst.forwards:
        assert fwd.host_addr == "127.0.0.1"
    assert inst.tags == {"env": "test"}


async def test_full_lifecycle(cloud: Cloud) -> None:
    inst = await cloud.instances.create("life", "tiny", "t1.micro")
    rundir = inst.runtime_dir
    assert await qmp_status(rundir) == "running"
    assert qemu_pids(rundir) == [inst.pid] and len(passt_pids(rundir)) == 1  # its egress
    for name in ("qmp.sock", "events.sock", "watch.sock", "serial.sock"):
        assert (Path(rundir) / name).stat().st_mode & 0o777 == 0o600
    assert Path(rundir).stat().st_mode & 0o777 == 0o700
    await cloud.instances.wait_ready(inst.id)

    with pytest.raises(StateError, match="cannot start instance 'life': it is running"):
        await cloud.instances.start("life")

    stopped = await cloud.instances.stop("life")
    assert stopped.state is S.STOPPED and stopped.pid is None
    assert qemu_pids(rundir) == [] and passt_pids(rundir) == []
    assert not (Path(rundir) / "qmp.sock").exists()
    with pytest.raises(StateError, match="it is stopped"):
        await cloud.instances.stop("life")
    with pytest.raises(StateError, match="cannot reboot"):
        await cloud.instances.reboot("life")

    started = await cloud.instances.start("life", wait=True)
    assert started.state is S.RUNNING
    assert await qmp_status(rundir) == "running"
    assert qemu_pids(rundir) == [started.pid]

    rebooted = await cloud.instances.reboot("life")
    assert rebooted.state is S.RUNNING and rebooted.pid == started.pid
    await cloud.instances.wait_ready("life", timeout=60)  # the marker again, after the reset
    assert await qmp_status(rundir) == "running"

    forced = await cloud.instances.force_stop("life")
    assert forced.state is S.STOPPED and qemu_pids(rundir) == [] and passt_pids(rundir) == []

    disk_path = Path(forced.disks[0].path)
    assert disk_path.exists()
    await cloud.instances.delete("life")
    assert not disk_path.exists()
    assert not Path(rundir).exists()
    assert cloud.store.db["instances"].count == 0
    actions = [e.action for e in cloud.audit.list(inst.id)]
    for action in ("instance.create", "instance.stop", "instance.start", "instance.reboot",
                   "instance.force-stop", "instance.delete"):
        assert action in actions
    failures = [e for e in cloud.audit.list(inst.id) if e.result == "failure"]
    assert len(failures) == 3  # start while running, stop while stopped, reboot while stopped


async def test_duplicate_name_refused(cloud: Cloud) -> None:
    await cloud.instances.create("dup", "tiny", "t1.nano", start=False)
    with pytest.raises(ConflictError, match="exists already"):
        await cloud.instances.create("dup", "tiny", "t1.nano", start=False)
    assert cloud.store.db["instances"].count == 1


async def test_second_backend_reattaches_and_reconciles_a_killed_qemu(cloud: Cloud) -> None:
    inst = await cloud.instances.create("keep", "tiny", "t1.micro")
    other = await Cloud.open(str(cloud.paths.home))
    try:
        seen = other.instances.get("keep")
        assert seen.state is S.RUNNING and seen.pid == inst.pid
        assert await qmp_status(seen.runtime_dir) == "running"

        os.kill(inst.pid or 0, 9)  # behind the backend's back
        after = other.instances.get("keep")
        for _ in range(50):
            if after.state is not S.RUNNING:
                break
            after = other.instances.get("keep")
        assert after.state is S.ERROR
        assert "died unexpectedly" in after.last_error
        assert not (Path(seen.runtime_dir) / "qemu.pid").exists()
        assert not (Path(seen.runtime_dir) / "qmp.sock").exists()
        events = [e for e in other.audit.list(inst.id) if e.action == "instance.reconcile"]
        assert len(events) == 1 and events[0].parameters["to"] == "error"

        restarted = await other.instances.start("keep")
        assert restarted.state is S.RUNNING
        assert await qmp_status(restarted.runtime_dir) == "running"
    finally:
        other.close()


async def test_guest_poweroff_is_reconciled_as_stopped(cloud: Cloud) -> None:
    from tests.qemu_probe import serial_run

    inst = await cloud.instances.create("self-off", "tiny", "t1.micro")
    await cloud.instances.wait_ready(inst.id)
    try:
        await serial_run(inst.runtime_dir, "poweroff -f", "\x00never", timeout=3)
    except (AssertionError, OSError, ConnectionError):
        pass
    state = cloud.instances.get(inst.id).state
    for _ in range(100):
        if state is S.STOPPED:
            break
        import asyncio

        await asyncio.sleep(0.1)
        state = cloud.instances.get(inst.id).state
    assert state is S.STOPPED
    events = [e for e in cloud.audit.list(inst.id) if e.action == "instance.reconcile"]
    assert events and events[0].parameters["to"] == "stopped"
