"""Backups: all disks of a running instance together, restored to the stopped instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend import Cloud
from backend.drivers.qemu import volume
from backend.drivers.qemu.volume import Volume
from backend.inventory.errors import NotFoundError, StateError
from backend.storage.records import BackupState
from tests.qemu_probe import serial_run

pytestmark = pytest.mark.qemu
WRITE = "for d in vdb vdc; do echo {m} | dd of=/dev/$d conv=fsync 2>/dev/null; done; echo W={n}"


async def same(cloud: Cloud, backup_id: str) -> list[bool]:
    """qemu-img compare of every disk with its copy in the backup (keys where encrypted)."""
    backup = cloud.backups.get(backup_id)
    results = []
    for copy in backup.disks:
        disk = cloud.disks.row(copy.disk_id)
        key = cloud.keys.path(cloud.backups.key_id(backup.id, copy.disk_id))
        results.append(await volume.compare(
            cloud.disks.volume(disk), Volume(Path(copy.path), key if copy.encrypted else None)))
    return results


async def test_live_backup_then_restore_reproduces_the_disks(cloud: Cloud) -> None:
    inst = await cloud.instances.create("bk", "tiny", "t1.micro", start=False)
    await cloud.disks.create("bkdata", 1)
    enc = await cloud.disks.create("bkenc", 1, encrypted=True)
    await cloud.disks.attach("bkdata", "bk")
    await cloud.disks.attach("bkenc", "bk")
    await cloud.instances.start("bk", wait=True, timeout=90)
    run = inst.runtime_dir
    await serial_run(run, WRITE.format(m="BACKUP-AAAA", n="$((5+5))"), "W=10", timeout=60)

    seen: list[float] = []
    backup = await cloud.backups.create("bk", "bk-one", progress=lambda f, _l: seen.append(f))
    assert backup.state is BackupState.AVAILABLE and backup.online
    assert [d.role for d in backup.disks] == ["system", "data", "data"]
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    for copy in backup.disks:
        assert Path(copy.path).stat().st_mode & 0o777 == 0o600
    enc_copy = next(d for d in backup.disks if d.encrypted)
    assert b"BACKUP-AAAA" not in Path(enc_copy.path).read_bytes()  # the copy is encrypted too

    await serial_run(run, WRITE.format(m="BACKUP-BBBB", n="$((5+6))"), "W=11", timeout=60)
    with pytest.raises(StateError, match="restore needs it stopped"):
        await cloud.backups.restore("bk-one")
    await cloud.instances.stop("bk")
    assert await same(cloud, backup.id) == [True, False, False]  # B was written after

    restored: list[float] = []
    await cloud.backups.restore("bk-one", progress=lambda f, _l: restored.append(f))
    assert restored[-1] == 1.0
    assert await same(cloud, backup.id) == [True, True, True]
    assert await cloud.disks.check_all() == {}

    offline = await cloud.backups.create("bk")  # stopped: qemu-img convert, same result
    assert not offline.online and await same(cloud, offline.id) == [True, True, True]
    assert [b.name for b in cloud.backups.list("bk")] == ["bk-one", offline.name]
    env = dict(os.environ, LECS_HOME=str(cloud.paths.home))
    shown = subprocess.run([sys.executable, "-m", "app.main", "backup", "list", "--json"],
                           capture_output=True, text=True, env=env, check=True, timeout=60)
    assert [len(b["disks"]) for b in json.loads(shown.stdout)] == [3, 3]

    for b in (backup, offline):
        cloud.backups.delete(b.id)
    assert not any((cloud.paths.home / "backups").iterdir())
    assert cloud.keys.ids() == [enc.id]
    with pytest.raises(NotFoundError):
        cloud.backups.get("bk-one")
    actions = [e.action for e in cloud.audit.list(limit=500) if e.action.startswith("backup.")]
    assert actions.count("backup.create") == 2 and actions.count("backup.restore") == 2
