"""Snapshots: a tree per disk, live snapshots of a running guest, rollback only when stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from backend import Cloud
from backend.inventory.errors import ConflictError, NotFoundError, StateError, ValidationError
from tests.qemu_probe import serial_run

pytestmark = pytest.mark.qemu


def lecs(cloud: Cloud, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LECS_HOME=str(cloud.paths.home))
    return subprocess.run([sys.executable, "-m", "app.main", *args], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)


def tags(path: str) -> list[str]:
    out = subprocess.run(["qemu-img", "snapshot", "-U", "-l", path], capture_output=True,
                         text=True, check=True).stdout
    return [line.split()[1] for line in out.splitlines()[2:] if line.strip()]


async def test_snapshot_tree_offline(cloud: Cloud) -> None:
    disk = await cloud.disks.create("treedisk", 1)
    t1 = await cloud.snapshots.create("treedisk", "t1")
    assert not t1.online and t1.current and t1.parent_id is None
    t2 = await cloud.snapshots.create("treedisk", "t2")
    assert t2.parent_id == t1.id
    await cloud.snapshots.rollback("t1")
    t3 = await cloud.snapshots.create("treedisk")  # an automatic name
    assert t3.parent_id == t1.id and t3.name.startswith("treedisk-")
    tree = [(depth, s.name, s.current) for depth, s in cloud.snapshots.tree("treedisk")]
    assert tree == [(0, "t1", False), (1, "t2", False), (1, t3.name, True)]
    assert sorted(tags(disk.path)) == sorted([t1.id, t2.id, t3.id])

    count = cloud.store.db["snapshots"].count
    with pytest.raises(ConflictError, match="exists already"):
        await cloud.snapshots.create("treedisk", "t2")
    with pytest.raises(ValidationError, match="invalid snapshot name"):
        await cloud.snapshots.create("treedisk", "no/slash")
    with pytest.raises(NotFoundError, match="disk 'ghost' not found"):
        await cloud.snapshots.create("ghost", "g")
    with pytest.raises(NotFoundError, match="snapshot 'ghost' not found"):
        await cloud.snapshots.rollback("ghost")
    assert cloud.store.db["snapshots"].count == count

    listed = lecs(cloud, "snapshot", "list", "--disk", "treedisk", "--json")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["t1", "t2", t3.name]
    refused = lecs(cloud, "snapshot", "rollback", "t2")  # no --yes, no terminal
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "without --yes" in refused.stderr and cloud.snapshots.get(t3.id).current

    await cloud.snapshots.delete("t1")  # its children move up to the root
    assert [(d, s.name) for d, s in cloud.snapshots.tree("treedisk")] == [(0, "t2"), (0, t3.name)]
    assert t1.id not in tags(disk.path)
    await cloud.disks.delete("treedisk")  # the snapshots live in the file: they go with it
    assert cloud.snapshots.list() == []


async def test_live_snapshot_then_rollback_restores_marker(cloud: Cloud) -> None:
    inst = await cloud.instances.create("snap", "tiny", "t1.micro", start=False)
    plain = await cloud.disks.create("sdata", 1)
    await cloud.disks.create("senc", 1, encrypted=True)
    await cloud.disks.attach("sdata", "snap")
    await cloud.disks.attach("senc", "snap")
    await cloud.instances.start("snap", wait=True, timeout=90)
    run = inst.runtime_dir
    write = "for d in vdb vdc; do echo {m} | dd of=/dev/$d conv=fsync 2>/dev/null; done; echo W={n}"
    await serial_run(run, write.format(m="MARK-AAAA", n="$((3+4))"), "W=7", timeout=60)

    a = await cloud.snapshots.create("sdata", "s-a")
    e = await cloud.snapshots.create("senc", "e-a")
    assert a.online and e.online and a.size_bytes > 0
    await serial_run(run, write.format(m="MARK-BBBB", n="$((4+4))"), "W=8", timeout=60)

    b = await cloud.snapshots.create("sdata", "s-b")
    assert b.parent_id == a.id and b.id in tags(plain.path)
    await cloud.snapshots.delete("s-b")  # live: blockdev-snapshot-delete-internal-sync
    assert b.id not in tags(plain.path)

    events = len(cloud.audit.list(limit=1000))
    with pytest.raises(StateError, match="is running .*stop the instance first"):
        await cloud.snapshots.rollback("s-a")
    assert cloud.audit.list(limit=1)[0].result == "failure"
    assert len(cloud.audit.list(limit=1000)) == events + 1

    await cloud.instances.stop("snap")
    assert (await cloud.snapshots.rollback("s-a")).current
    await cloud.snapshots.rollback("e-a")
    await cloud.instances.start("snap", wait=True, timeout=90)
    read = "for d in vdb vdc; do dd if=/dev/$d bs=9 count=1 2>/dev/null; echo =$d; done"
    seen = await serial_run(run, read, "=vdc", timeout=60)
    assert "MARK-AAAA=vdb" in seen and "MARK-AAAA=vdc" in seen and "BBBB=" not in seen
    await cloud.instances.stop("snap")
    assert await cloud.disks.check_all() == {}
