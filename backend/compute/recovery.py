"""What a killed instance operation leaves, made right (the journal's handlers for compute).

- `instance.settle` (start, stop, reboot, force-stop): the row follows reality. A QEMU proven
  to be the instance's (pid file and command line) is adopted: `running` with its pid, never a
  second QEMU over it. No QEMU: `stopped`, its stale sockets gone. A killed clean reboot is
  finished first: a QEMU held on the guest's power-off is reset and runs (compute/reboot.py).
- `instance.purge` (create, delete): the instance goes entirely. A create killed half-way is
  rolled back (its files, rows, seed, and a QEMU it may have launched); a delete killed
  half-way is finished.

`remove` is also the delete itself, so both paths stay one.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.drivers.qemu.process import Liveness
from backend.inventory.errors import QemuError
from backend.inventory.records import InstanceState as S

if TYPE_CHECKING:
    from backend.compute.instances import Instances


async def kill_proven(inst: Instances, instance_id: str, recorded_pid: int | None) -> None:
    """Stop the QEMU that its pid file and command line prove is this instance's, if any."""
    live, pid = inst.driver.liveness(instance_id, recorded_pid)
    # No proven pid: a QEMU launched by a process killed before its pid file was read.
    pids = [pid] if live is Liveness.ALIVE and pid else inst.driver.unrecorded(instance_id)
    for found in pids:
        await inst.driver.quit(instance_id, found)


async def remove(inst: Instances, instance_id: str) -> None:
    """Delete an instance: its QEMU, rows, doomed disks and their keys, seed, runtime dir."""
    from backend.storage.keystore import key_path

    row = inst.store.row("SELECT pid FROM instances WHERE id = ?", [instance_id])
    await kill_proven(inst, instance_id, row["pid"] if row else None)
    inst.driver.cleanup(instance_id, keep_logs=False)
    disks = inst.store.rows("SELECT * FROM disks WHERE instance_id = ?", [instance_id])
    doomed = [d for d in disks if d["delete_with_instance"] or d["role"] == "system"]
    nic = inst.store.row("SELECT network_id FROM nics WHERE instance_id = ?", [instance_id])
    with inst.store.transaction() as db:
        db.execute("DELETE FROM forwards WHERE instance_id = ?", [instance_id])
        db.execute("DELETE FROM tags WHERE resource_id = ?", [instance_id])
        inst.net.forget(db, instance_id)
        for d in disks:
            if d in doomed:
                db.execute("DELETE FROM tags WHERE resource_id = ?", [d["id"]])
                db.table("disks").delete(d["id"])
            else:
                db.table("disks").update(d["id"], {"instance_id": None, "state": "available"})
        db.execute("DELETE FROM instances WHERE id = ?", [instance_id])
    for d in doomed:
        Path(d["path"]).unlink(missing_ok=True)
        key_path(inst.paths, d["id"]).unlink(missing_ok=True)
    shutil.rmtree(inst.driver.rundir(instance_id), ignore_errors=True)
    inst.net.forgotten(instance_id, nic["network_id"] if nic else "")


def _inside(inst: Instances, path: str) -> Path | None:
    """A path the journal named, if it lies under LECS_HOME (never act on anything else)."""
    resolved = Path(path).resolve()
    return resolved if resolved.is_relative_to(inst.paths.home.resolve()) else None


async def purge(inst: Instances, action: str, data: dict[str, Any]) -> None:
    from backend.storage.keystore import key_path

    instance_id = str(data["instance"])
    async with inst.locks.hold(instance_id):
        await remove(inst, instance_id)
        for name in data.get("files", []):
            path = _inside(inst, name)
            if path is not None:
                path.unlink(missing_ok=True)
        for disk_id in data.get("disks", []):
            key_path(inst.paths, str(disk_id)).unlink(missing_ok=True)
    inst.locks.forget(instance_id)
    verb = "rolled back" if action.endswith(("create", "clone")) else "finished"
    inst.audit.record("instance.recover", instance_id,
                      {"interrupted": action, "outcome": f"{verb}: deleted"}, "success", "")


async def settle(inst: Instances, action: str, data: dict[str, Any]) -> None:
    instance_id = str(data["instance"])
    async with inst.locks.hold(instance_id):
        row = inst.store.row("SELECT * FROM instances WHERE id = ?", [instance_id])
        if row is None:
            return
        live, pid = inst.driver.liveness(instance_id, row["pid"])
        if live is Liveness.ALIVE and pid:
            await _finish_reboot(inst, instance_id, pid, data.get("reboot") == "clean")
            live, pid = inst.driver.liveness(instance_id, pid)
        if live is Liveness.ALIVE:
            fields: dict[str, Any] = {"state": S.RUNNING.value, "pid": pid}
            if not row["started_at"]:
                fields["started_at"] = time.time()
        else:
            inst.driver.cleanup(instance_id)
            fields = {"state": S.STOPPED.value, "pid": None, "started_at": None}
        with inst.store.transaction() as db:
            db.table("instances").update(instance_id, fields)
    inst.audit.record("instance.recover", instance_id,
                      {"interrupted": action, "outcome": fields["state"]}, "success", "")


async def _finish_reboot(inst: Instances, instance_id: str, pid: int, clean: bool) -> None:
    """A killed reboot's QEMU runs again (compute/reboot.py): one held on the guest's
    power-off is reset; a killed clean reboot whose guest still runs is done over (the
    guest may be half-way through the shutdown asked of it). Any other settle: the power-off
    action put back, in case. A QEMU not answering is left as it is (running, as before)."""
    from backend.compute import reboot

    try:
        status = await inst.driver.run_status(instance_id)
        if status in (reboot.HELD, reboot.RESET) or not clean:
            await reboot.finish(inst.driver, instance_id, status)
        else:  # still held on power-off: released only once the guest was reset
            await reboot.clean(inst.driver, instance_id, pid, inst.stop_timeout,
                               inst.driver.rundir(instance_id) / "serial.log")
    except QemuError:
        pass
