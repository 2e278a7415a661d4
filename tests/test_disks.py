"""Disks (EVS) on real QEMU and qemu-img: rules offline, then hot attach/resize/detach live."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backend import Cloud
from backend.inventory.errors import ConflictError, NotFoundError, StateError, ValidationError
from backend.inventory.records import DiskState as D
from backend.inventory.records import InstanceState as S
from tests.qemu_probe import serial_run

pytestmark = pytest.mark.qemu
GIB_SECTORS = 2097152  # 1 GiB in 512-byte sectors, as /sys/block/vdX/size reports it


async def guest(rundir: str, command: str, expect: str, timeout: float = 60) -> str:
    return await serial_run(rundir, command, expect, timeout=timeout)


async def wait_block(rundir: str, dev: str, sectors: int) -> None:
    """Poll the guest until /sys/block/DEV/size reads `sectors` (hotplug takes ~1-2 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    probe = f"cat /sys/block/{dev}/size 2>/dev/null | sed 's/^/SZ=/'"
    while True:
        try:
            await guest(rundir, probe, f"SZ={sectors}\r", timeout=3)
            return
        except AssertionError:
            if loop.time() > deadline:
                raise


def refused_without_change(cloud: Cloud) -> tuple[int, int, list[str]]:
    files = sorted(p.name for p in cloud.paths.disks.iterdir())
    return cloud.store.db["disks"].count, cloud.store.db["snapshots"].count, files


async def test_disk_rules_offline(cloud: Cloud) -> None:
    disk = await cloud.disks.create("data1", 1)
    assert disk.state is D.AVAILABLE and disk.role == "data" and not disk.delete_with_instance
    assert Path(disk.path).stat().st_mode & 0o777 == 0o600
    box = await cloud.instances.create("box", "tiny", "t1.micro", start=False)
    assert box.state is S.STOPPED

    before = refused_without_change(cloud)
    for call, error, text in [
        (lambda: cloud.disks.create("x", 0), ValidationError, "between 1 and 16384"),
        (lambda: cloud.disks.create("x", "lots"),  # type: ignore[arg-type]
         ValidationError, "whole number of GiB"),
        (lambda: cloud.disks.create("a b", 1), ValidationError, "invalid disk name"),
        (lambda: cloud.disks.create("../x", 1), ValidationError, "invalid disk name"),
        (lambda: cloud.disks.create("x", 1, fmt="vmdk"), ValidationError, "invalid disk format"),
        (lambda: cloud.disks.create("data1", 1), ConflictError, "exists already"),
        (lambda: cloud.disks.attach("data1", "ghost"), NotFoundError, "instance 'ghost' not found"),
        (lambda: cloud.disks.attach("nope", "box"), NotFoundError, "disk 'nope' not found"),
        (lambda: cloud.disks.detach("data1"), StateError, "it is available (detach needs in-use)"),
        (lambda: cloud.disks.resize("data1", 1), ValidationError, "disks only grow"),
        (lambda: cloud.disks.detach(box.disks[0].id), StateError, "system disk"),
        (lambda: cloud.disks.delete(box.disks[0].id), StateError, "system disk"),
    ]:
        with pytest.raises(error, match=re.escape(text)):
            await call()
    assert refused_without_change(cloud) == before

    disk = await cloud.disks.attach("data1", "box")
    assert disk.state is D.IN_USE and disk.instance_id == box.id and disk.position == 1
    with pytest.raises(StateError, match="in-use by instance 'box'"):
        await cloud.disks.delete("data1")
    with pytest.raises(StateError, match="it is in-use"):
        await cloud.disks.attach("data1", "box")
    assert (await cloud.disks.resize("data1", 2)).size_gib == 2  # offline: qemu-img resize
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", disk.path],
                                     capture_output=True, check=True).stdout)
    assert info["virtual-size"] == 2 << 30
    assert [d.name for d in cloud.instances.get("box").disks] == ["box-system", "data1"]
    assert (await cloud.disks.detach("data1")).state is D.AVAILABLE

    # delete_with_instance: kept disks come back available, flagged ones go with the instance
    keep = await cloud.disks.attach("data1", "box")
    doomed = await cloud.disks.create("doomed", 1, encrypted=True, delete_with_instance=True)
    await cloud.disks.attach("doomed", "box")
    await cloud.snapshots.create("doomed", "doomed-snap")
    key = cloud.keys.path(doomed.id)
    assert key.stat().st_mode & 0o777 == 0o600
    await cloud.instances.delete("box")
    assert cloud.disks.get("data1").state is D.AVAILABLE and Path(keep.path).exists()
    with pytest.raises(NotFoundError):
        cloud.disks.get("doomed")
    assert not Path(doomed.path).exists() and not key.exists()
    assert cloud.store.db["snapshots"].count == 0
    with pytest.raises(NotFoundError, match="instance 'box' not found"):
        await cloud.disks.attach("data1", "box")  # attach to a deleted instance

    await cloud.disks.delete("data1")
    assert not any(cloud.paths.disks.iterdir())
    failures = [e for e in cloud.audit.list(limit=500)
                if e.action.startswith("disk.") and e.result == "failure"]
    assert len(failures) >= 12
    assert all(e.error and "\n" not in e.error for e in failures)


async def test_hot_attach_resize_detach_and_encrypted_disk(cloud: Cloud) -> None:
    inst = await cloud.instances.create("hot", "tiny", "t1.micro", wait=True, wait_timeout=90)
    run = inst.runtime_dir
    data = await cloud.disks.create("hotdata", 1)
    assert (await cloud.disks.attach("hotdata", "hot")).state is D.IN_USE
    await wait_block(run, "vdb", GIB_SECTORS)
    await guest(run, "echo LECS-MARK-1 | dd of=/dev/vdb conv=fsync 2>/dev/null; echo W=$((1+1))",
                "W=2")

    # online resize: block_resize, and the guest sees the new size
    assert (await cloud.disks.resize("hotdata", 2)).size_gib == 2
    await wait_block(run, "vdb", 2 * GIB_SECTORS)

    with pytest.raises(StateError, match="in-use"):
        await cloud.disks.delete("hotdata")
    assert (await cloud.disks.detach("hotdata")).state is D.AVAILABLE
    await guest(run, "[ -e /sys/block/vdb ] || echo GONE=$((1+1))", "GONE=2")
    await cloud.disks.attach("hotdata", "hot")
    await wait_block(run, "vdb", 2 * GIB_SECTORS)
    await guest(run, "dd if=/dev/vdb bs=11 count=1 2>/dev/null; echo", "LECS-MARK-1")

    # an encrypted disk attaches live (secret object + LUKS qcow2) and holds data
    enc = await cloud.disks.create("vault", 1, encrypted=True)
    await cloud.disks.attach("vault", "hot")
    await wait_block(run, "vdc", GIB_SECTORS)
    await guest(run, "echo LECS-SECRET-7 | dd of=/dev/vdc conv=fsync 2>/dev/null; echo W=$((2+1))",
                "W=3")
    await cloud.disks.detach("vault")
    raw = Path(enc.path).read_bytes()
    assert b"LECS-SECRET-7" not in raw and b"LUKS" in raw
    locked = subprocess.run(["qemu-img", "convert", "-O", "raw", enc.path, "/dev/null"],
                            capture_output=True, text=True)
    assert locked.returncode != 0 and "key-secret" in locked.stderr
    key = cloud.keys.path(enc.id)
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text() not in json.dumps([e.parameters for e in cloud.audit.list()])
    plain = Path(enc.path).with_suffix(".raw")
    subprocess.run(["qemu-img", "convert", "--object", f"secret,id=k,file={key}",
                    "--image-opts", f"driver=qcow2,file.filename={enc.path},"
                    "encrypt.key-secret=k", "-O", "raw", str(plain)], check=True)
    assert plain.read_bytes()[:13] == b"LECS-SECRET-7"
    plain.unlink()

    # the CLI sees the same inventory; its errors are one line
    env = dict(os.environ, LECS_HOME=str(cloud.paths.home))
    listed = subprocess.run([sys.executable, "-m", "app.main", "disk", "list", "--json"],
                            capture_output=True, text=True, env=env, check=True, timeout=60)
    rows = {d["name"]: d for d in json.loads(listed.stdout)}
    assert rows["hotdata"]["state"] == "in-use" and rows["vault"]["encrypted"] is True
    bad = subprocess.run([sys.executable, "-m", "app.main", "disk", "delete", "hotdata", "-y"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "in-use" in bad.stderr

    # a stopped instance restarts with its data disks; every disk checks clean
    await cloud.instances.stop("hot")
    assert await cloud.disks.check_all() == {}
    assert [d.name for d in cloud.instances.get("hot").disks] == ["hot-system", "hotdata"]
    assert data.id in {d.id for d in cloud.disks.list("hot")}
